use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::returns::return_lines;
use super::sub_order::{split_by_vendor, total_of_priced};
use super::{
    price_lines, CancelReason, OrderCommand, OrderEvent, OrderLine, OrderReturn, OrderStatus,
    PricedLine, ReturnStatus, SubOrder,
};
use crate::commission::{commissions_of, CommissionRules, LineCommission};
use crate::ledger::CreditedLine;
use crate::{
    Actor, Category, Currency, CustomerId, DomainError, Money, OrderId, PaymentToken, ProductId,
    Quantity, Reason, ReturnId, ShippingAddress, TrackingNumber, VendorId,
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
    /// One per vendor of the lines, each shipped on its own.
    #[serde(default)]
    sub_orders: Vec<SubOrder>,
    /// Fixed at confirmation; none on orders confirmed before commissions existed.
    #[serde(default)]
    commissions: Vec<LineCommission>,
    /// Every return asked for, in the order asked.
    #[serde(default)]
    returns: Vec<OrderReturn>,
}

impl Placed {
    /// Moves every open sub-order to `status` (with `tracking`, when shipped).
    fn settle_open(&mut self, status: OrderStatus, tracking: Option<&TrackingNumber>) {
        for sub_order in self.sub_orders.iter_mut().filter(|s| s.is_open()) {
            sub_order.status = status;
            if let Some(tracking) = tracking {
                sub_order.tracking = Some(tracking.clone());
            }
        }
    }

    fn illegal(&self, to: OrderStatus) -> DomainError {
        DomainError::IllegalTransition {
            aggregate: Order::TYPE,
            from: self.status.as_str(),
            to: to.as_str(),
        }
    }

    /// Return `return_id` of this order.
    fn find_return(&self, return_id: ReturnId) -> Result<&OrderReturn, DomainError> {
        self.returns
            .iter()
            .find(|r| r.return_id == return_id)
            .ok_or_else(|| DomainError::NoReturn {
                order_id: self.order_id.to_string(),
                return_id: return_id.to_string(),
            })
    }

    fn return_mut(&mut self, return_id: ReturnId) -> Option<&mut OrderReturn> {
        self.returns.iter_mut().find(|r| r.return_id == return_id)
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

    /// One vendor's part of the order each; empty before it is placed.
    pub fn sub_orders(&self) -> &[SubOrder] {
        self.placed.as_ref().map_or(&[], |p| &p.sub_orders)
    }

    /// Each vendor's lines as its ledger credits them once the payment is captured: quantity,
    /// total, and the commission fixed at confirmation (0 on orders confirmed before
    /// commissions existed).
    pub fn sales_by_vendor(&self) -> Vec<(VendorId, Currency, Vec<CreditedLine>)> {
        let Some(order) = self.placed.as_ref() else {
            return Vec::new();
        };
        let commission_of = |product_id: ProductId| {
            order
                .commissions
                .iter()
                .find(|c| c.product_id == product_id)
                .map_or(0, |c| c.commission_minor)
        };
        order
            .sub_orders
            .iter()
            .map(|sub_order| {
                let lines = sub_order
                    .lines
                    .iter()
                    .map(|line| CreditedLine {
                        product_id: line.product_id,
                        quantity: line.quantity.get(),
                        line_total_minor: line.line_total.amount_minor,
                        commission_minor: commission_of(line.product_id),
                    })
                    .collect();
                (
                    sub_order.vendor_id,
                    sub_order.subtotal.currency.clone(),
                    lines,
                )
            })
            .collect()
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
            OrderCommand::Confirm {
                actor,
                rules,
                categories,
            } => self.confirm(&actor, &rules, &categories),
            OrderCommand::Cancel { reason, actor } => self.cancel(reason, &actor),
            OrderCommand::Ship {
                tracking,
                vendor_id,
                actor,
            } => self.ship(tracking, vendor_id, &actor),
            OrderCommand::RequestReturn {
                return_id,
                vendor_id,
                units,
                reason,
                actor,
            } => self.request_return(return_id, vendor_id, &units, reason, &actor),
            OrderCommand::AcceptReturn {
                return_id,
                restock,
                actor,
            } => self.accept_return(return_id, restock, &actor),
            OrderCommand::RejectReturn {
                return_id,
                reason,
                actor,
            } => self.reject_return(return_id, reason, &actor),
            OrderCommand::CompleteReturn { return_id } => self.complete_return(return_id),
            OrderCommand::FailReturn { return_id, reason } => self.fail_return(return_id, reason),
        }
    }

    /// The returns of the order, in the order asked; empty before it is placed.
    pub fn returns(&self) -> &[OrderReturn] {
        self.placed.as_ref().map_or(&[], |p| &p.returns)
    }

    fn request_return(
        &self,
        return_id: ReturnId,
        named: Option<VendorId>,
        units: &[(ProductId, Quantity)],
        reason: Option<Reason>,
        actor: &Actor,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        let vendor_id = match (named, units.first()) {
            (Some(vendor_id), _) => vendor_id,
            (None, Some((product_id, _))) => order
                .lines
                .iter()
                .find(|l| l.product_id == *product_id)
                .map(|l| l.vendor_id)
                .ok_or_else(|| DomainError::NotInOrder {
                    product_id: product_id.to_string(),
                })?,
            (None, None) => {
                return Err(DomainError::NoLines {
                    aggregate: "Return",
                })
            }
        };
        match actor {
            Actor::Admin => {}
            Actor::Customer { customer_id } if *customer_id == order.customer_id => {}
            Actor::Customer { .. } => return Err(order.not_owner()),
            Actor::Vendor { .. } | Actor::System => {
                return Err(DomainError::NotPermitted {
                    action: "request a return",
                })
            }
        }
        if let Some(asked) = order.returns.iter().find(|r| r.return_id == return_id) {
            let same = asked.vendor_id == vendor_id
                && asked.lines.len() == units.len()
                && asked
                    .lines
                    .iter()
                    .zip(units)
                    .all(|(line, (product_id, quantity))| {
                        line.product_id == *product_id && line.quantity == *quantity
                    });
            return match same {
                true => Ok(None),
                false => Err(DomainError::ReturnIdTaken {
                    return_id: return_id.to_string(),
                }),
            };
        }
        let sub_order = order
            .sub_orders
            .iter()
            .find(|s| s.vendor_id == vendor_id)
            .ok_or_else(|| DomainError::NoSubOrder {
                order_id: order.order_id.to_string(),
                vendor_id: vendor_id.to_string(),
            })?;
        if sub_order.status != OrderStatus::Shipped {
            return Err(DomainError::NotShipped {
                order_id: order.order_id.to_string(),
                vendor_id: vendor_id.to_string(),
            });
        }
        let (lines, refund_total) =
            return_lines(vendor_id, &sub_order.lines, &order.returns, units)?;
        Ok(Some(OrderEvent::ReturnRequested {
            order_id: order.order_id,
            customer_id: order.customer_id,
            return_id,
            vendor_id,
            lines,
            refund_total,
            reason,
        }))
    }

    fn accept_return(
        &self,
        return_id: ReturnId,
        restock: bool,
        actor: &Actor,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        let asked = order.find_return(return_id)?;
        if !actor.may_act_for(asked.vendor_id) {
            return Err(order.not_owner());
        }
        match asked.status {
            ReturnStatus::Requested => Ok(Some(OrderEvent::ReturnAccepted {
                order_id: order.order_id,
                customer_id: order.customer_id,
                return_id,
                vendor_id: asked.vendor_id,
                lines: asked.lines.clone(),
                refund_total: asked.refund_total.clone(),
                restock,
            })),
            ReturnStatus::Accepted | ReturnStatus::Refunded if asked.restock == restock => Ok(None),
            _ => Err(asked.illegal(ReturnStatus::Accepted)),
        }
    }

    fn reject_return(
        &self,
        return_id: ReturnId,
        reason: Reason,
        actor: &Actor,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        let asked = order.find_return(return_id)?;
        if !actor.may_act_for(asked.vendor_id) {
            return Err(order.not_owner());
        }
        match asked.status {
            ReturnStatus::Requested => Ok(Some(OrderEvent::ReturnRejected {
                order_id: order.order_id,
                customer_id: order.customer_id,
                return_id,
                vendor_id: asked.vendor_id,
                reason,
            })),
            ReturnStatus::Rejected => Ok(None),
            _ => Err(asked.illegal(ReturnStatus::Rejected)),
        }
    }

    fn complete_return(&self, return_id: ReturnId) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        let asked = order.find_return(return_id)?;
        match asked.status {
            ReturnStatus::Accepted => Ok(Some(OrderEvent::ReturnRefunded {
                order_id: order.order_id,
                customer_id: order.customer_id,
                return_id,
                vendor_id: asked.vendor_id,
                lines: asked.lines.clone(),
                refund_total: asked.refund_total.clone(),
            })),
            ReturnStatus::Refunded => Ok(None),
            _ => Err(asked.illegal(ReturnStatus::Refunded)),
        }
    }

    fn fail_return(
        &self,
        return_id: ReturnId,
        reason: String,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        let asked = order.find_return(return_id)?;
        match asked.status {
            ReturnStatus::Accepted => Ok(Some(OrderEvent::ReturnRefundFailed {
                order_id: order.order_id,
                customer_id: order.customer_id,
                return_id,
                vendor_id: asked.vendor_id,
                reason,
            })),
            ReturnStatus::RefundFailed => Ok(None),
            _ => Err(asked.illegal(ReturnStatus::RefundFailed)),
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

    fn confirm(
        &self,
        actor: &Actor,
        rules: &CommissionRules,
        categories: &BTreeMap<ProductId, Category>,
    ) -> Result<Option<OrderEvent>, DomainError> {
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
                commissions: commissions_of(rules, &order.lines, categories),
            })),
            OrderStatus::Confirmed => Ok(None),
            OrderStatus::PartiallyShipped | OrderStatus::Shipped | OrderStatus::Cancelled => {
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
            // What is cancelled, refunded and restocked is what has not shipped: every line
            // until a vendor ships, the open sub-orders' lines after.
            OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::PartiallyShipped => {
                let lines: Vec<PricedLine> = order
                    .sub_orders
                    .iter()
                    .filter(|sub| sub.is_open())
                    .flat_map(|sub| sub.lines.iter().cloned())
                    .collect();
                let (lines, total) = if order.status == OrderStatus::PartiallyShipped {
                    let total = total_of_priced(&lines)?;
                    (lines, total)
                } else {
                    (order.lines.clone(), order.total.clone())
                };
                Ok(Some(OrderEvent::OrderCancelled {
                    order_id: order.order_id,
                    customer_id: order.customer_id,
                    reason,
                    previous_status: order.status,
                    lines,
                    total,
                }))
            }
            OrderStatus::Cancelled if order.cancel_reason == Some(reason) => Ok(None),
            OrderStatus::Cancelled | OrderStatus::Shipped => {
                Err(order.illegal(OrderStatus::Cancelled))
            }
        }
    }

    fn ship(
        &self,
        tracking: TrackingNumber,
        named: Option<VendorId>,
        actor: &Actor,
    ) -> Result<Option<OrderEvent>, DomainError> {
        let order = self.existing()?;
        let vendor_id = match actor {
            Actor::Admin => match (named, order.sub_orders.as_slice()) {
                (Some(vendor_id), _) => vendor_id,
                (None, [only]) => only.vendor_id,
                (None, sub_orders) => {
                    return Err(DomainError::VendorNotNamed {
                        order_id: order.order_id.to_string(),
                        vendors: sub_orders.len(),
                    })
                }
            },
            // A vendor ships its own sub-order, and only that one.
            Actor::Vendor { vendor_id } => {
                let others = named.is_some_and(|named| named != *vendor_id);
                if others || !order.sub_orders.iter().any(|s| s.vendor_id == *vendor_id) {
                    return Err(order.not_owner());
                }
                *vendor_id
            }
            Actor::Customer { .. } | Actor::System => {
                return Err(DomainError::NotPermitted {
                    action: "ship an order",
                })
            }
        };
        let sub_order = order
            .sub_orders
            .iter()
            .find(|s| s.vendor_id == vendor_id)
            .ok_or_else(|| DomainError::NoSubOrder {
                order_id: order.order_id.to_string(),
                vendor_id: vendor_id.to_string(),
            })?;
        if sub_order.status == OrderStatus::Shipped
            && sub_order.tracking.as_ref() == Some(&tracking)
        {
            return Ok(None);
        }
        let shippable = matches!(
            order.status,
            OrderStatus::Confirmed | OrderStatus::PartiallyShipped
        ) && sub_order.is_open();
        if !shippable {
            let from = if sub_order.is_open() {
                order.status
            } else {
                sub_order.status
            };
            return Err(DomainError::IllegalTransition {
                aggregate: Order::TYPE,
                from: from.as_str(),
                to: OrderStatus::Shipped.as_str(),
            });
        }
        let others_open = order
            .sub_orders
            .iter()
            .any(|s| s.vendor_id != vendor_id && s.is_open());
        Ok(Some(if others_open {
            OrderEvent::SubOrderShipped {
                order_id: order.order_id,
                customer_id: order.customer_id,
                vendor_id,
                tracking,
                lines: sub_order.lines.clone(),
                subtotal: sub_order.subtotal.clone(),
            }
        } else {
            OrderEvent::OrderShipped {
                order_id: order.order_id,
                customer_id: order.customer_id,
                tracking,
            }
        }))
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
                // Placing checked the lines: they split (and sum) without fail.
                let sub_orders = split_by_vendor(&lines).unwrap_or_default();
                self.placed = Some(Placed {
                    order_id,
                    customer_id,
                    lines,
                    total,
                    status: OrderStatus::Pending,
                    cancel_reason: None,
                    tracking: None,
                    sub_orders,
                    commissions: Vec::new(),
                    returns: Vec::new(),
                });
            }
            OrderEvent::OrderConfirmed { commissions, .. } => {
                if let Some(order) = self.placed.as_mut() {
                    order.commissions = commissions;
                    order.status = OrderStatus::Confirmed;
                    order.settle_open(OrderStatus::Confirmed, None);
                }
            }
            OrderEvent::OrderCancelled { reason, .. } => {
                if let Some(order) = self.placed.as_mut() {
                    order.status = OrderStatus::Cancelled;
                    order.cancel_reason = Some(reason);
                    order.settle_open(OrderStatus::Cancelled, None);
                }
            }
            // The last open sub-order ships (all of them, for an order stored before sub-orders).
            OrderEvent::OrderShipped { tracking, .. } => {
                if let Some(order) = self.placed.as_mut() {
                    order.status = OrderStatus::Shipped;
                    order.settle_open(OrderStatus::Shipped, Some(&tracking));
                    order.tracking = Some(tracking);
                }
            }
            OrderEvent::SubOrderShipped {
                vendor_id,
                tracking,
                ..
            } => {
                if let Some(order) = self.placed.as_mut() {
                    order.status = OrderStatus::PartiallyShipped;
                    if let Some(sub_order) = order
                        .sub_orders
                        .iter_mut()
                        .find(|s| s.vendor_id == vendor_id)
                    {
                        sub_order.status = OrderStatus::Shipped;
                        sub_order.tracking = Some(tracking);
                    }
                }
            }
            OrderEvent::ReturnRequested {
                return_id,
                vendor_id,
                lines,
                refund_total,
                ..
            } => {
                if let Some(order) = self.placed.as_mut() {
                    order.returns.push(OrderReturn {
                        return_id,
                        vendor_id,
                        lines,
                        refund_total,
                        status: ReturnStatus::Requested,
                        restock: false,
                    });
                }
            }
            OrderEvent::ReturnAccepted {
                return_id, restock, ..
            } => {
                if let Some(asked) = self.placed.as_mut().and_then(|o| o.return_mut(return_id)) {
                    asked.status = ReturnStatus::Accepted;
                    asked.restock = restock;
                }
            }
            OrderEvent::ReturnRejected { return_id, .. } => {
                if let Some(asked) = self.placed.as_mut().and_then(|o| o.return_mut(return_id)) {
                    asked.status = ReturnStatus::Rejected;
                }
            }
            OrderEvent::ReturnRefunded { return_id, .. } => {
                if let Some(asked) = self.placed.as_mut().and_then(|o| o.return_mut(return_id)) {
                    asked.status = ReturnStatus::Refunded;
                }
            }
            OrderEvent::ReturnRefundFailed { return_id, .. } => {
                if let Some(asked) = self.placed.as_mut().and_then(|o| o.return_mut(return_id)) {
                    asked.status = ReturnStatus::RefundFailed;
                }
            }
        }
    }
}
