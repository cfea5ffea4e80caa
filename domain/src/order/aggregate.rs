use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{
    price_lines, CancelReason, OrderCommand, OrderEvent, OrderLine, OrderStatus, PricedLine,
};
use crate::{
    Actor, CustomerId, DomainError, Money, OrderId, PaymentToken, ShippingAddress, TrackingNumber,
};

/// An order's state as far as its rules need it: whose it is, whose lines it holds, its status.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// `None` until `OrderPlaced`; every other command needs it to exist.
    placed: Option<Placed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Placed {
    order_id: OrderId,
    customer_id: CustomerId,
    lines: Vec<PricedLine>,
    total: Money,
    status: OrderStatus,
    /// Set once cancelled, so a repeated cancel with the same reason is recognised as a retry.
    cancel_reason: Option<CancelReason>,
    /// Set once shipped, so a repeated ship with the same tracking is recognised as a retry.
    tracking: Option<TrackingNumber>,
}

impl Placed {
    fn illegal(&self, to: OrderStatus) -> DomainError {
        DomainError::IllegalTransition {
            aggregate: Order::TYPE,
            from: self.status.as_str(),
            to: to.as_str(),
        }
    }

    fn not_owner(&self) -> DomainError {
        DomainError::NotOwner {
            aggregate: Order::TYPE,
            id: self.order_id.to_string(),
        }
    }
}

impl Order {
    pub const TYPE: &'static str = "Order";

    /// The order's status; `None` before it is placed.
    pub fn status(&self) -> Option<OrderStatus> {
        self.placed.as_ref().map(|p| p.status)
    }

    fn existing(&self) -> Result<&Placed, DomainError> {
        self.placed.as_ref().ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })
    }

    /// The event `command` produces, if any, or why it is refused. `handle` records the event.
    pub(crate) fn decide(&self, command: OrderCommand) -> Result<Option<OrderEvent>, DomainError> {
        match command {
            OrderCommand::PlaceOrder {
                order_id,
                customer_id,
                lines,
                shipping_address,
                payment_token,
            } => self
                .place(
                    order_id,
                    customer_id,
                    &lines,
                    shipping_address,
                    payment_token,
                )
                .map(Some),
            OrderCommand::Confirm { actor } => self.confirm(&actor),
            OrderCommand::Cancel { reason, actor } => self.cancel(reason, &actor),
            OrderCommand::Ship { tracking, actor } => self.ship(tracking, &actor),
        }
    }

    fn place(
        &self,
        order_id: OrderId,
        customer_id: CustomerId,
        lines: &[OrderLine],
        shipping_address: ShippingAddress,
        payment_token: PaymentToken,
    ) -> Result<OrderEvent, DomainError> {
        if self.placed.is_some() {
            return Err(DomainError::AlreadyExists {
                aggregate: Self::TYPE,
                id: order_id.to_string(),
            });
        }
        let (lines, total) = price_lines(Self::TYPE, lines)?;
        Ok(OrderEvent::OrderPlaced {
            order_id,
            customer_id,
            lines,
            total,
            shipping_address,
            payment_token,
        })
    }

    fn confirm(&self, actor: &Actor) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        if !matches!(actor, Actor::System | Actor::Admin) {
            return Err(DomainError::NotPermitted {
                action: "confirm an order",
            });
        }
        match order.status {
            OrderStatus::Pending => Ok(Some(OrderEvent::OrderConfirmed {
                order_id: order.order_id,
                customer_id: order.customer_id,
                lines: order.lines.clone(),
                total: order.total.clone(),
            })),
            OrderStatus::Confirmed => Ok(None),
            OrderStatus::Shipped | OrderStatus::Cancelled => {
                Err(order.illegal(OrderStatus::Confirmed))
            }
        }
    }

    fn cancel(
        &self,
        reason: CancelReason,
        actor: &Actor,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        match actor {
            Actor::System | Actor::Admin => {}
            Actor::Customer { customer_id } => {
                if *customer_id != order.customer_id {
                    return Err(order.not_owner());
                }
                if reason != CancelReason::CustomerRequest {
                    return Err(DomainError::NotPermitted {
                        action: "cancel an order for a reason other than customer_request",
                    });
                }
            }
            Actor::Vendor { .. } => {
                return Err(DomainError::NotPermitted {
                    action: "cancel an order",
                })
            }
        }
        match order.status {
            OrderStatus::Pending | OrderStatus::Confirmed => Ok(Some(OrderEvent::OrderCancelled {
                order_id: order.order_id,
                customer_id: order.customer_id,
                reason,
                previous_status: order.status,
                lines: order.lines.clone(),
                total: order.total.clone(),
            })),
            OrderStatus::Cancelled if order.cancel_reason == Some(reason) => Ok(None),
            OrderStatus::Cancelled | OrderStatus::Shipped => {
                Err(order.illegal(OrderStatus::Cancelled))
            }
        }
    }

    fn ship(
        &self,
        tracking: TrackingNumber,
        actor: &Actor,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        match actor {
            Actor::Admin => {}
            Actor::Vendor { vendor_id } => {
                if !order.lines.iter().any(|line| line.vendor_id == *vendor_id) {
                    return Err(order.not_owner());
                }
            }
            Actor::Customer { .. } | Actor::System => {
                return Err(DomainError::NotPermitted {
                    action: "ship an order",
                })
            }
        }
        match order.status {
            OrderStatus::Confirmed => Ok(Some(OrderEvent::OrderShipped {
                order_id: order.order_id,
                customer_id: order.customer_id,
                tracking,
            })),
            OrderStatus::Shipped if order.tracking.as_ref() == Some(&tracking) => Ok(None),
            OrderStatus::Pending | OrderStatus::Shipped | OrderStatus::Cancelled => {
                Err(order.illegal(OrderStatus::Shipped))
            }
        }
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = Self::TYPE;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrderCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: OrderEvent) {
        match event {
            OrderEvent::OrderPlaced {
                order_id,
                customer_id,
                lines,
                total,
                ..
            } => {
                self.placed = Some(Placed {
                    order_id,
                    customer_id,
                    lines,
                    total,
                    status: OrderStatus::Pending,
                    cancel_reason: None,
                    tracking: None,
                });
            }
            OrderEvent::OrderConfirmed { .. } => {
                if let Some(order) = self.placed.as_mut() {
                    order.status = OrderStatus::Confirmed;
                }
            }
            OrderEvent::OrderCancelled { reason, .. } => {
                if let Some(order) = self.placed.as_mut() {
                    order.status = OrderStatus::Cancelled;
                    order.cancel_reason = Some(reason);
                }
            }
            OrderEvent::OrderShipped { tracking, .. } => {
                if let Some(order) = self.placed.as_mut() {
                    order.status = OrderStatus::Shipped;
                    order.tracking = Some(tracking);
                }
            }
        }
    }
}
