use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{InventoryCommand, InventoryEvent};
use crate::{
    Actor, DomainError, OrderId, ProductId, Quantity, ReturnId, ValidationError, VendorId,
};

/// A product's stock: units on hand, and which orders hold which of them.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// `None` until the first `StockReceived`; until then nothing is available.
    stock: Option<Stock>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stock {
    product_id: ProductId,
    /// Fixed by the first receipt: the only vendor (besides admins) who may receive stock.
    vendor_id: VendorId,
    /// Units physically held, including reserved ones.
    on_hand: u64,
    /// Units held for open orders, one entry per order, so a repeated reservation cannot count twice.
    reservations: BTreeMap<OrderId, Quantity>,
    /// Orders whose reservation became a sale; remembered so a late, retried `Reserve` for the
    /// same order cannot sell its units a second time.
    committed: BTreeMap<OrderId, Quantity>,
    /// Orders whose held units were given back; remembered so a late, retried `Reserve` for a
    /// cancelled order is not a new hold. (Absent from snapshots taken before it was kept.)
    #[serde(default)]
    released: BTreeSet<OrderId>,
    /// Orders whose sold units were taken back after a cancellation.
    #[serde(default)]
    returned: BTreeSet<OrderId>,
    /// Customers' returns whose units came back, and how many of each order's units did.
    #[serde(default)]
    restocked: BTreeSet<ReturnId>,
    #[serde(default)]
    restocked_units: BTreeMap<OrderId, u32>,
}

impl Stock {
    fn reserved(&self) -> u64 {
        self.reservations.values().map(|q| u64::from(q.get())).sum()
    }

    fn available(&self) -> u64 {
        self.on_hand.saturating_sub(self.reserved())
    }
}

impl Inventory {
    pub const TYPE: &'static str = "Inventory";

    /// Most units one product may have on hand; keeps the counts far from overflow.
    pub const MAX_ON_HAND: u64 = 1_000_000_000;

    /// Units held, reserved or not.
    pub fn on_hand(&self) -> u64 {
        self.stock.as_ref().map_or(0, |s| s.on_hand)
    }

    /// Units that may still be reserved.
    pub fn available(&self) -> u64 {
        self.stock.as_ref().map_or(0, Stock::available)
    }

    /// The open reservations, by order.
    pub fn reservations(&self) -> impl Iterator<Item = (OrderId, Quantity)> + '_ {
        self.stock
            .iter()
            .flat_map(|s| s.reservations.iter().map(|(order, q)| (*order, *q)))
    }

    /// The event `command` produces, if any, or why it is refused. `handle` records the event.
    pub(crate) fn decide(
        &self,
        command: InventoryCommand,
    ) -> Result<Option<InventoryEvent>, DomainError> {
        match command {
            InventoryCommand::ReceiveStock {
                product_id,
                vendor_id,
                quantity,
                actor,
            } => self
                .receive(product_id, vendor_id, quantity, &actor)
                .map(Some),
            InventoryCommand::Reserve { order_id, quantity } => self.reserve(order_id, quantity),
            InventoryCommand::Release { order_id } => Ok(self.release(order_id)),
            InventoryCommand::Commit { order_id } => Ok(self.commit(order_id)),
            InventoryCommand::ReturnSold { order_id } => Ok(self.return_sold(order_id)),
            InventoryCommand::Restock {
                order_id,
                return_id,
                quantity,
            } => Ok(self.restock(order_id, return_id, quantity)),
        }
    }

    fn receive(
        &self,
        product_id: ProductId,
        vendor_id: VendorId,
        quantity: Quantity,
        actor: &Actor,
    ) -> Result<InventoryEvent, DomainError> {
        let (product_id, owner) = self
            .stock
            .as_ref()
            .map_or((product_id, vendor_id), |s| (s.product_id, s.vendor_id));
        if owner != vendor_id || !actor.may_act_for(owner) {
            return Err(DomainError::NotOwner {
                aggregate: Self::TYPE,
                id: product_id.to_string(),
            });
        }
        let on_hand = self.on_hand() + u64::from(quantity.get());
        if on_hand > Self::MAX_ON_HAND {
            return Err(ValidationError::new(
                "quantity",
                format!("would raise the stock on hand above {}", Self::MAX_ON_HAND),
            )
            .into());
        }
        Ok(InventoryEvent::StockReceived {
            product_id,
            vendor_id: owner,
            quantity,
            on_hand,
            available: self.available() + u64::from(quantity.get()),
        })
    }

    fn reserve(
        &self,
        order_id: OrderId,
        quantity: Quantity,
    ) -> Result<Option<InventoryEvent>, DomainError> {
        let Some(stock) = self.stock.as_ref() else {
            return Err(DomainError::OutOfStock {
                requested: quantity.get(),
                available: 0,
            });
        };
        if stock.released.contains(&order_id) || stock.returned.contains(&order_id) {
            return Ok(None);
        }
        let held = stock
            .reservations
            .get(&order_id)
            .or_else(|| stock.committed.get(&order_id));
        if let Some(held) = held {
            if *held == quantity {
                return Ok(None);
            }
            return Err(DomainError::ReservationConflict {
                order_id: order_id.to_string(),
                reserved: held.get(),
                requested: quantity.get(),
            });
        }
        let available = stock.available();
        let requested = u64::from(quantity.get());
        if requested > available {
            return Err(DomainError::OutOfStock {
                requested: quantity.get(),
                available,
            });
        }
        Ok(Some(InventoryEvent::StockReserved {
            product_id: stock.product_id,
            vendor_id: stock.vendor_id,
            order_id,
            quantity,
            on_hand: stock.on_hand,
            available: available - requested,
        }))
    }

    fn release(&self, order_id: OrderId) -> Option<InventoryEvent> {
        let stock = self.stock.as_ref()?;
        let quantity = *stock.reservations.get(&order_id)?;
        Some(InventoryEvent::StockReleased {
            product_id: stock.product_id,
            vendor_id: stock.vendor_id,
            order_id,
            quantity,
            on_hand: stock.on_hand,
            available: stock.available() + u64::from(quantity.get()),
        })
    }

    fn return_sold(&self, order_id: OrderId) -> Option<InventoryEvent> {
        let stock = self.stock.as_ref()?;
        if stock.returned.contains(&order_id) {
            return None;
        }
        let quantity = *stock.committed.get(&order_id)?;
        Some(InventoryEvent::StockReturned {
            product_id: stock.product_id,
            vendor_id: stock.vendor_id,
            order_id,
            quantity,
            on_hand: stock.on_hand + u64::from(quantity.get()),
            available: stock.available() + u64::from(quantity.get()),
            return_id: None,
        })
    }

    /// Units of an order's sale a customer returned: at most what the order bought here, less
    /// what came back before; nothing if this return already came back.
    fn restock(
        &self,
        order_id: OrderId,
        return_id: ReturnId,
        quantity: Quantity,
    ) -> Option<InventoryEvent> {
        let stock = self.stock.as_ref()?;
        if stock.restocked.contains(&return_id) || stock.returned.contains(&order_id) {
            return None;
        }
        let bought = stock.committed.get(&order_id)?.get();
        let back = stock.restocked_units.get(&order_id).copied().unwrap_or(0);
        let quantity = Quantity::new(quantity.get().min(bought.saturating_sub(back))).ok()?;
        Some(InventoryEvent::StockReturned {
            product_id: stock.product_id,
            vendor_id: stock.vendor_id,
            order_id,
            quantity,
            on_hand: stock.on_hand + u64::from(quantity.get()),
            available: stock.available() + u64::from(quantity.get()),
            return_id: Some(return_id),
        })
    }

    fn commit(&self, order_id: OrderId) -> Option<InventoryEvent> {
        let stock = self.stock.as_ref()?;
        let quantity = *stock.reservations.get(&order_id)?;
        Some(InventoryEvent::StockCommitted {
            product_id: stock.product_id,
            vendor_id: stock.vendor_id,
            order_id,
            quantity,
            on_hand: stock.on_hand - u64::from(quantity.get()),
            available: stock.available(),
        })
    }
}

impl Aggregate for Inventory {
    const TYPE: &'static str = Self::TYPE;
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: InventoryCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: InventoryEvent) {
        match event {
            InventoryEvent::StockReceived {
                product_id,
                vendor_id,
                quantity,
                ..
            } => {
                let stock = self.stock.get_or_insert_with(|| Stock {
                    product_id,
                    vendor_id,
                    on_hand: 0,
                    reservations: BTreeMap::new(),
                    committed: BTreeMap::new(),
                    released: BTreeSet::new(),
                    returned: BTreeSet::new(),
                    restocked: BTreeSet::new(),
                    restocked_units: BTreeMap::new(),
                });
                stock.on_hand = stock.on_hand.saturating_add(u64::from(quantity.get()));
            }
            InventoryEvent::StockReserved {
                order_id, quantity, ..
            } => {
                if let Some(stock) = self.stock.as_mut() {
                    stock.reservations.insert(order_id, quantity);
                }
            }
            InventoryEvent::StockReleased { order_id, .. } => {
                if let Some(stock) = self.stock.as_mut() {
                    stock.reservations.remove(&order_id);
                    stock.released.insert(order_id);
                }
            }
            InventoryEvent::StockReturned {
                order_id,
                quantity,
                return_id,
                ..
            } => {
                if let Some(stock) = self.stock.as_mut() {
                    match return_id {
                        Some(return_id) => {
                            stock.restocked.insert(return_id);
                            *stock.restocked_units.entry(order_id).or_default() += quantity.get();
                        }
                        None => {
                            stock.returned.insert(order_id);
                        }
                    }
                    stock.on_hand = stock.on_hand.saturating_add(u64::from(quantity.get()));
                }
            }
            InventoryEvent::StockCommitted {
                order_id, quantity, ..
            } => {
                if let Some(stock) = self.stock.as_mut() {
                    stock.reservations.remove(&order_id);
                    stock.committed.insert(order_id, quantity);
                    stock.on_hand = stock.on_hand.saturating_sub(u64::from(quantity.get()));
                }
            }
        }
    }
}
