use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{CartCommand, CartEvent};
use crate::order::{price_lines, total_of, OrderLine};
use crate::{CartId, CustomerId, DomainError, Money, ProductId, Quantity};

/// A cart's state as far as its rules need it: whose it is, its lines, whether it is still open.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cart {
    /// `None` until `CartCreated`; every other command needs it to exist.
    contents: Option<Contents>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Contents {
    cart_id: CartId,
    customer_id: CustomerId,
    /// One line per product, in the order they were first added.
    lines: Vec<OrderLine>,
    checked_out: bool,
}

impl Contents {
    fn line(&self, product_id: ProductId) -> Option<&OrderLine> {
        self.lines.iter().find(|line| line.product_id == product_id)
    }

    /// The cart's total if `product_id`'s line became `line` (or went away, for `None`); refused
    /// when currencies would mix or the total would leave the accepted range.
    fn check_total_with(
        &self,
        product_id: ProductId,
        line: Option<OrderLine>,
    ) -> Result<(), DomainError> {
        let mut lines: Vec<OrderLine> = self
            .lines
            .iter()
            .filter(|l| l.product_id != product_id)
            .cloned()
            .collect();
        lines.extend(line);
        total_of(&lines).map(drop)
    }
}

impl Cart {
    pub const TYPE: &'static str = "Cart";

    /// Most units of one product a cart line may hold.
    pub const MAX_LINE_QUANTITY: u32 = 99;

    /// Most lines a cart may hold. Checkout records every line twice (`CartCheckedOut`,
    /// `OrderPlaced`), and each event travels as one SNS message, which may not exceed 256 KiB: a
    /// line takes at most about 400 bytes of JSON, so 100 lines stay far below it (about 40 KB).
    pub const MAX_LINES: usize = 100;

    /// The cart's lines, in the order they were first added.
    pub fn lines(&self) -> &[OrderLine] {
        self.contents.as_ref().map_or(&[], |c| c.lines.as_slice())
    }

    /// What the lines cost together; `None` for an empty cart. The rules keep this an `Ok`.
    pub fn total(&self) -> Result<Option<Money>, DomainError> {
        total_of(self.lines())
    }

    /// Whether the cart was checked out and so accepts nothing more.
    pub fn is_checked_out(&self) -> bool {
        self.contents.as_ref().is_some_and(|c| c.checked_out)
    }

    /// The cart, provided it exists, `caller` owns it and it is still open.
    fn open_cart(&self, caller: CustomerId) -> Result<&Contents, DomainError> {
        let cart = self.contents.as_ref().ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })?;
        if cart.customer_id != caller {
            return Err(DomainError::NotOwner {
                aggregate: Self::TYPE,
                id: cart.cart_id.to_string(),
            });
        }
        if cart.checked_out {
            return Err(DomainError::CartCheckedOut {
                id: cart.cart_id.to_string(),
            });
        }
        Ok(cart)
    }

    /// The event `command` produces, if any, or why it is refused. `handle` records the event.
    pub(crate) fn decide(&self, command: CartCommand) -> Result<Option<CartEvent>, DomainError> {
        match command {
            CartCommand::CreateCart {
                cart_id,
                customer_id,
            } => {
                if self.contents.is_some() {
                    return Err(DomainError::AlreadyExists {
                        aggregate: Self::TYPE,
                        id: cart_id.to_string(),
                    });
                }
                Ok(Some(CartEvent::CartCreated {
                    cart_id,
                    customer_id,
                }))
            }
            CartCommand::AddItem {
                customer_id,
                product_id,
                vendor_id,
                unit_price,
                published,
                quantity,
            } => {
                let cart = self.open_cart(customer_id)?;
                if !published {
                    return Err(DomainError::ProductNotAvailable {
                        product_id: product_id.to_string(),
                    });
                }
                if cart.line(product_id).is_none() && cart.lines.len() >= Cart::MAX_LINES {
                    return Err(DomainError::CartLineLimit {
                        max: Cart::MAX_LINES,
                    });
                }
                let held = cart.line(product_id).map_or(0, |line| line.quantity.get());
                let quantity = line_quantity(u64::from(held) + u64::from(quantity.get()))?;
                let line = OrderLine {
                    product_id,
                    vendor_id,
                    quantity,
                    unit_price,
                };
                cart.check_total_with(product_id, Some(line.clone()))?;
                Ok(Some(CartEvent::ItemAddedToCart {
                    cart_id: cart.cart_id,
                    product_id,
                    vendor_id: line.vendor_id,
                    quantity,
                    unit_price: line.unit_price,
                }))
            }
            CartCommand::ChangeQuantity {
                customer_id,
                product_id,
                quantity: 0,
            }
            | CartCommand::RemoveItem {
                customer_id,
                product_id,
            } => {
                let cart = self.open_cart(customer_id)?;
                Ok(cart
                    .line(product_id)
                    .map(|_| CartEvent::ItemRemovedFromCart {
                        cart_id: cart.cart_id,
                        product_id,
                    }))
            }
            CartCommand::ChangeQuantity {
                customer_id,
                product_id,
                quantity,
            } => {
                let cart = self.open_cart(customer_id)?;
                let quantity = line_quantity(u64::from(quantity))?;
                let line = cart.line(product_id).ok_or(DomainError::NotInCart {
                    product_id: product_id.to_string(),
                })?;
                if line.quantity == quantity {
                    return Ok(None);
                }
                cart.check_total_with(
                    product_id,
                    Some(OrderLine {
                        quantity,
                        ..line.clone()
                    }),
                )?;
                Ok(Some(CartEvent::CartItemQuantityChanged {
                    cart_id: cart.cart_id,
                    product_id,
                    quantity,
                }))
            }
            CartCommand::Checkout {
                customer_id,
                order_id,
                shipping_address,
                payment_token,
                current_prices,
            } => {
                let cart = self.open_cart(customer_id)?;
                // The price is the one at checkout: each line takes its product's current price.
                let repriced = cart
                    .lines
                    .iter()
                    .map(|line| match current_prices.get(&line.product_id) {
                        None => Ok(line.clone()),
                        Some(Some(price)) => Ok(OrderLine {
                            unit_price: price.clone(),
                            ..line.clone()
                        }),
                        Some(None) => Err(DomainError::ProductNotAvailable {
                            product_id: line.product_id.to_string(),
                        }),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (lines, total) = price_lines(Self::TYPE, &repriced)?;
                Ok(Some(CartEvent::CartCheckedOut {
                    cart_id: cart.cart_id,
                    customer_id: cart.customer_id,
                    order_id,
                    lines,
                    total,
                    shipping_address,
                    payment_token,
                }))
            }
        }
    }
}

/// A line quantity within the per-line maximum.
fn line_quantity(requested: u64) -> Result<Quantity, DomainError> {
    match u32::try_from(requested) {
        Ok(units) if units <= Cart::MAX_LINE_QUANTITY => Ok(Quantity::new(units)?),
        _ => Err(DomainError::LineQuantityLimit {
            max: Cart::MAX_LINE_QUANTITY,
            requested,
        }),
    }
}

impl Aggregate for Cart {
    const TYPE: &'static str = Self::TYPE;
    type Command = CartCommand;
    type Event = CartEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CartCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CartEvent) {
        match event {
            CartEvent::CartCreated {
                cart_id,
                customer_id,
            } => {
                self.contents = Some(Contents {
                    cart_id,
                    customer_id,
                    lines: Vec::new(),
                    checked_out: false,
                });
            }
            CartEvent::ItemAddedToCart {
                product_id,
                vendor_id,
                quantity,
                unit_price,
                ..
            } => {
                if let Some(cart) = self.contents.as_mut() {
                    let line = OrderLine {
                        product_id,
                        vendor_id,
                        quantity,
                        unit_price,
                    };
                    match cart.lines.iter_mut().find(|l| l.product_id == product_id) {
                        Some(existing) => *existing = line,
                        None => cart.lines.push(line),
                    }
                }
            }
            CartEvent::CartItemQuantityChanged {
                product_id,
                quantity,
                ..
            } => {
                if let Some(line) = self
                    .contents
                    .as_mut()
                    .and_then(|c| c.lines.iter_mut().find(|l| l.product_id == product_id))
                {
                    line.quantity = quantity;
                }
            }
            CartEvent::ItemRemovedFromCart { product_id, .. } => {
                if let Some(cart) = self.contents.as_mut() {
                    cart.lines.retain(|l| l.product_id != product_id);
                }
            }
            CartEvent::CartCheckedOut { .. } => {
                if let Some(cart) = self.contents.as_mut() {
                    cart.checked_out = true;
                }
            }
        }
    }
}
