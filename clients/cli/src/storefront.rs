//! `commerce products|cart|checkout|orders|stock`: the public API through `commerce-client`, one
//! call per subcommand; answers as a summary for a person or as JSON (see `output`).
use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use commerce_client::{
    ClientError, CommandOptions, CommerceClient, Money, NewProduct, OrderDocument, OrderQuery,
    OrderStatus, ProductQuery, ReturnItem, ShippingAddress,
};
use commerce_domain::{Category, Currency, Description, Reason, Sku, Title, TrackingNumber};
use uuid::Uuid;

use crate::output::Output;
use crate::render;

/// A read with `min_version` may wait 2 s on the server; this leaves room for that and more.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the services are and who is asking.
#[derive(Debug, Clone)]
pub struct ApiTarget {
    pub command_api: String,
    pub read_api: String,
    /// The auth service (sign-up, sign-in, refresh).
    pub auth_api: String,
    /// A bearer token (e.g. from `commerce token`); without one, the sign-in `commerce login`
    /// kept is used, and without that the server answers 401.
    pub token: Option<String>,
    /// Sent as `Idempotency-Key` with the command, so running it again changes nothing.
    pub idempotency_key: Option<String>,
    /// How long one request may take: [`REQUEST_TIMEOUT`], longer for a payout run, which
    /// answers only once every vendor's transfer is done.
    pub request_timeout: Duration,
}

impl ApiTarget {
    pub fn client(&self) -> anyhow::Result<CommerceClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(self.request_timeout)
            .build()
            .context("building the HTTP client")?;
        let client = CommerceClient::with_http_client(http, &self.command_api, &self.read_api)
            .with_auth_api(&self.auth_api);
        Ok(match &self.token {
            Some(token) => client.with_token(token),
            None => client,
        })
    }

    /// The client with `--token`, or else the kept sign-in's access token (refreshed when it
    /// is about to expire).
    pub async fn authenticated_client(&self) -> anyhow::Result<CommerceClient> {
        let client = self.client()?;
        if self.token.is_some() {
            return Ok(client);
        }
        Ok(match crate::credentials::access_token(&client).await? {
            Some(token) => client.with_token(token),
            None => client,
        })
    }

    /// The client with this run's command options and output format.
    pub async fn session(&self, output: Output) -> anyhow::Result<Session> {
        Ok(Session {
            client: self.authenticated_client().await?,
            options: CommandOptions {
                idempotency_key: self.idempotency_key.clone(),
                correlation_id: None,
            },
            output,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// Published products in the catalog (read API).
    List {
        /// Only this category (a slug such as `apparel`).
        #[arg(long)]
        category: Option<String>,
        /// Only this vendor's products.
        #[arg(long, value_parser = parse_id)]
        vendor_id: Option<Uuid>,
        /// Text in the title or description.
        #[arg(long)]
        q: Option<String>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Page size, 1 to 100.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
    },
    /// One product document (read API).
    Show {
        /// The product's id.
        #[arg(value_parser = parse_id)]
        id: Uuid,
        /// Wait (at most 2 s) until the catalog has this product version (the `version` a
        /// product command answered).
        #[arg(long)]
        min_version: Option<i64>,
        /// Wait (at most 2 s) until the catalog has this stock version (the `version` a
        /// `stock receive` answered).
        #[arg(long)]
        min_stock_version: Option<i64>,
    },
    /// List a new product (vendor, admin); it starts unpublished and without stock.
    Create {
        /// Stock-keeping unit, unique per vendor: 1 to 64 of A-Z a-z 0-9 . _ -
        #[arg(long, value_parser = domain_text(Sku::parse))]
        sku: String,
        /// Title shown in the storefront, 1 to 200 characters.
        #[arg(long, value_parser = domain_text(Title::parse))]
        title: String,
        /// Up to 5000 characters.
        #[arg(long, default_value = "", value_parser = domain_text(Description::parse))]
        description: String,
        /// Category slug: 1 to 64 of a-z 0-9 -
        #[arg(long, value_parser = domain_text(Category::parse))]
        category: String,
        #[command(flatten)]
        price: PriceArgs,
        /// The vendor that sells it: admins only (a vendor's token names its own).
        #[arg(long, value_parser = parse_id)]
        vendor_id: Option<Uuid>,
    },
    /// Change a product's price (owning vendor, admin); carts pay the new price at checkout.
    Price {
        /// The product's id.
        #[arg(value_parser = parse_id)]
        id: Uuid,
        #[command(flatten)]
        price: PriceArgs,
    },
    /// Show a product in the storefront (owning vendor, admin).
    Publish {
        /// The product's id.
        #[arg(value_parser = parse_id)]
        id: Uuid,
    },
    /// Hide a product from the storefront (owning vendor, admin); carts holding it keep it.
    Unpublish {
        /// The product's id.
        #[arg(value_parser = parse_id)]
        id: Uuid,
    },
}

/// A price as a person writes it: `--price 19.99 --currency EUR`.
#[derive(Debug, Clone, clap::Args)]
pub struct PriceArgs {
    /// The amount in the currency's units, such as 19.99 (at most the currency's decimals;
    /// positive, at most 1,000,000,000.00 in two-decimal currencies).
    #[arg(long)]
    pub price: String,
    /// ISO 4217 currency code, such as EUR, USD or JPY.
    #[arg(long, value_parser = domain_text(Currency::parse))]
    pub currency: String,
}

impl PriceArgs {
    /// The price in minor units, checked as the API checks it.
    pub fn money(&self) -> Result<Money, UsageError> {
        let money = Money::parse_decimal(&self.price, &self.currency)
            .map_err(|e| UsageError(format!("--price: {e}")))?;
        let currency = Currency::parse(&money.currency).map_err(|e| UsageError(e.reason))?;
        commerce_domain::Money::new(money.amount_minor, currency)
            .map_err(|e| UsageError(format!("--price {}: {}", self.price, e.reason)))?;
        Ok(money)
    }
}

/// An argument refused after parsing (it depends on another one, as a price's decimals depend on
/// its currency): reported like clap's own usage errors, exit status 2, nothing sent.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

#[derive(Debug, Subcommand)]
pub enum CartCommand {
    /// Open an empty cart for the token's customer.
    Create,
    /// Add units of a published product.
    Add {
        /// The cart's id (from `commerce cart create`).
        #[arg(value_parser = parse_id)]
        cart: Uuid,
        /// The product's id (from `commerce products list`).
        #[arg(value_parser = parse_id)]
        product: Uuid,
        /// Units to add, 1 to 99 (a line holds at most 99).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
        quantity: u32,
    },
    /// Set a line's quantity; 0 removes the line.
    Set {
        /// The cart's id.
        #[arg(value_parser = parse_id)]
        cart: Uuid,
        /// The product whose line changes.
        #[arg(value_parser = parse_id)]
        product: Uuid,
        /// The line's new quantity, 0 to 99 (0 removes the line).
        #[arg(value_parser = clap::value_parser!(u32).range(0..=99))]
        quantity: u32,
    },
    /// Take a product's line out of the cart.
    Remove {
        /// The cart's id.
        #[arg(value_parser = parse_id)]
        cart: Uuid,
        /// The product whose line goes.
        #[arg(value_parser = parse_id)]
        product: Uuid,
    },
    /// The cart as its owner reads it, with product titles (read API).
    Show {
        /// The cart's id.
        #[arg(value_parser = parse_id)]
        cart: Uuid,
        /// Wait (at most 2 s) until the read side has this version.
        #[arg(long)]
        min_version: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Orders the token may see, newest first: a customer's own, a vendor's with its lines, all
    /// for an admin (read API).
    List {
        /// Only orders holding this vendor's lines (a vendor may name only itself).
        #[arg(long, value_parser = parse_id)]
        vendor_id: Option<Uuid>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Page size, 1 to 100.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
    },
    /// One order, with product titles, each vendor's sub-order when several vendors sell its
    /// lines, and its returns (read API).
    Show {
        /// The order's id (from `commerce checkout`).
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// Wait (at most 2 s) until the read side has this version.
        #[arg(long)]
        min_version: Option<i64>,
        /// Wait (at most 30 s) until the order is settled: no longer `pending`.
        #[arg(long)]
        wait: bool,
    },
    /// Cancel an order before it ships (its customer, or an admin); a paid order is refunded
    /// and its stock returned.
    Cancel {
        /// The order's id.
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// Why: customer_request (a customer's only choice) or, for admins, any of the values.
        #[arg(long, value_enum, default_value_t = CancelReasonArg::CustomerRequest)]
        reason: CancelReasonArg,
    },
    /// Hand a vendor's sub-order of a confirmed order to a carrier (that vendor, or an admin);
    /// the order is partially_shipped until every vendor's sub-order has shipped.
    Ship {
        /// The order's id.
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// The carrier's tracking number: 1 to 64 of A-Z a-z 0-9 - and spaces.
        #[arg(long, value_parser = domain_text(TrackingNumber::parse))]
        tracking: String,
        /// Whose sub-order ships: a vendor's token ships its own and may leave it out; an admin
        /// names it when the order holds several vendors' lines.
        #[arg(long, value_parser = parse_id)]
        vendor_id: Option<Uuid>,
    },
    /// Ask to return units of a vendor's shipped sub-order (the order's customer, or an admin);
    /// the vendor accepts or rejects it, and the refund follows acceptance.
    Return {
        /// The order's id.
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// A product of the sub-order and how many of its units go back, 1 to 99 (at most what
        /// the line holds less earlier returns); repeat for more products, each once, at most 50.
        #[arg(
            long = "line",
            value_name = "PRODUCT_ID:QUANTITY",
            required = true,
            value_parser = parse_return_line
        )]
        lines: Vec<ReturnItem>,
        /// Whose sub-order the units come from; left out, the vendor of the lines' products.
        #[arg(long, value_parser = parse_id)]
        vendor_id: Option<Uuid>,
        /// Why, for the vendor: 1 to 500 characters.
        #[arg(long, value_parser = domain_text(Reason::parse))]
        reason: Option<String>,
    },
    /// Accept a return (the vendor whose goods they are, or an admin): the customer is refunded
    /// and the vendor's share and the commission of the lines are reversed.
    AcceptReturn {
        /// The order's id.
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// The return's id (from `commerce orders return`, or `commerce orders show`).
        #[arg(value_parser = parse_id)]
        return_id: Uuid,
        /// Put the returned units back into the vendor's stock (left out: they are not resold).
        #[arg(long)]
        restock: bool,
    },
    /// Reject a return (the vendor whose goods they are, or an admin), saying why; nothing is
    /// refunded.
    RejectReturn {
        /// The order's id.
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// The return's id (from `commerce orders return`, or `commerce orders show`).
        #[arg(value_parser = parse_id)]
        return_id: Uuid,
        /// Why, for the customer: 1 to 500 characters.
        #[arg(long, value_parser = domain_text(Reason::parse))]
        reason: String,
    },
    /// One vendor's sub-order of an order: its lines, subtotal, status and tracking (read API;
    /// the order's customer, that vendor, or an admin).
    SubOrder {
        /// The order's id.
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// The vendor whose sub-order.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        /// Wait (at most 2 s) until the read side has this order version.
        #[arg(long)]
        min_version: Option<i64>,
    },
}

/// The reasons `commerce orders cancel --reason` may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum CancelReasonArg {
    CustomerRequest,
    Admin,
    OutOfStock,
    PaymentDeclined,
    PaymentTimeout,
}

impl CancelReasonArg {
    fn as_str(self) -> &'static str {
        match self {
            CancelReasonArg::CustomerRequest => "customer_request",
            CancelReasonArg::Admin => "admin",
            CancelReasonArg::OutOfStock => "out_of_stock",
            CancelReasonArg::PaymentDeclined => "payment_declined",
            CancelReasonArg::PaymentTimeout => "payment_timeout",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Add units to a product's stock (owning vendor, admin).
    Receive {
        /// The product's id.
        #[arg(value_parser = parse_id)]
        product: Uuid,
        /// Units received, 1 to 1,000,000.
        #[arg(value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        quantity: u32,
    },
}

/// A text argument checked by the domain's own parser, so the CLI refuses what the API would,
/// in the API's words.
fn domain_text<T: std::fmt::Display + 'static>(
    parse: fn(&str) -> Result<T, commerce_domain::ValidationError>,
) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        parse(text)
            .map(|value| value.to_string())
            .map_err(|e| e.reason)
    }
}

/// What an id looks like, for the messages that refuse one.
const EXAMPLE_ID: &str = "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708192";

/// An id argument: a UUID, said in words when it is not one (clap would quote the parser's
/// "invalid character" at a position).
pub fn parse_id(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        format!(
            "`{text}` is not an id: ids are UUIDs such as {EXAMPLE_ID} \
             (check the order of the arguments in --help)"
        )
    })
}

/// Units one line of a return may hold, as the API bounds them.
const RETURN_UNITS: std::ops::RangeInclusive<u32> = 1..=99;
/// Lines one return may hold, as the API bounds them.
const MAX_RETURN_LINES: usize = 50;

/// `--line PRODUCT_ID:QUANTITY` of `orders return`, each part refused in words of its own.
pub fn parse_return_line(text: &str) -> Result<ReturnItem, String> {
    let Some((product, quantity)) = text.rsplit_once(':') else {
        return Err(format!(
            "`{text}` is not a line: write PRODUCT_ID:QUANTITY, such as {EXAMPLE_ID}:1"
        ));
    };
    let product_id = Uuid::parse_str(product.trim()).map_err(|_| {
        format!("`{product}` is not a product id: ids are UUIDs such as {EXAMPLE_ID}")
    })?;
    let (low, high) = (RETURN_UNITS.start(), RETURN_UNITS.end());
    let quantity = quantity
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|units| RETURN_UNITS.contains(units))
        .ok_or_else(|| {
            format!(
                "`{quantity}` is not a quantity to return: a line returns {low} to {high} units"
            )
        })?;
    Ok(ReturnItem {
        product_id,
        quantity,
    })
}

/// The rules the API applies to a return's lines as a whole, checked before anything is sent:
/// at most [`MAX_RETURN_LINES`], each product once.
fn check_return_lines(lines: &[ReturnItem]) -> Result<(), UsageError> {
    if lines.len() > MAX_RETURN_LINES {
        return Err(UsageError(format!(
            "a return holds at most {MAX_RETURN_LINES} --line, got {}",
            lines.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    match lines.iter().find(|line| !seen.insert(line.product_id)) {
        Some(twice) => Err(UsageError(format!(
            "--line names product {} twice: give each product once, with all its units",
            twice.product_id
        ))),
        None => Ok(()),
    }
}

/// Checking a cart out: the order it places is settled asynchronously.
#[derive(Debug, clap::Args)]
pub struct CheckoutArgs {
    /// The cart to check out.
    #[arg(value_parser = parse_id)]
    pub cart: Uuid,
    #[command(flatten)]
    pub address: AddressArgs,
    /// `tok_ok`, `tok_decline` or `tok_timeout` with the local payment simulator.
    #[arg(long, default_value = "tok_ok")]
    pub payment_token: String,
}

/// The shipping address, part by part; the server checks each part and names the one it refuses.
#[derive(Debug, clap::Args)]
pub struct AddressArgs {
    /// Who receives the parcel, 1 to 100 characters.
    #[arg(long)]
    pub name: String,
    /// Street and number, 1 to 200 characters.
    #[arg(long)]
    pub line1: String,
    /// Flat, floor or building, up to 200 characters.
    #[arg(long)]
    pub line2: Option<String>,
    /// 1 to 100 characters.
    #[arg(long)]
    pub city: String,
    /// State, province or county, where the country uses one; up to 100 characters.
    #[arg(long)]
    pub region: Option<String>,
    /// 1 to 20 ASCII letters, digits, spaces and '-'.
    #[arg(long)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case (DE, GB, US).
    #[arg(long)]
    pub country: String,
}

impl From<AddressArgs> for ShippingAddress {
    fn from(args: AddressArgs) -> Self {
        ShippingAddress {
            name: args.name,
            line1: args.line1,
            line2: args.line2,
            city: args.city,
            region: args.region,
            postal_code: args.postal_code,
            country: args.country,
        }
    }
}

/// What each storefront command needs: the client, the command options and the output format.
pub struct Session {
    pub client: CommerceClient,
    /// Sent with every command of this run (the idempotency key, if given).
    pub options: CommandOptions,
    pub output: Output,
}

pub async fn products(session: &Session, command: ProductsCommand) -> anyhow::Result<()> {
    let Session {
        client,
        options,
        output,
    } = session;
    match command {
        ProductsCommand::List {
            category,
            vendor_id,
            q,
            cursor,
            limit,
        } => {
            let query = ProductQuery {
                category,
                vendor_id,
                q,
                cursor,
                limit,
            };
            let page = client.list_products(&query).await.map_err(describe)?;
            output.print(&page, render::product_page)
        }
        ProductsCommand::Show {
            id,
            min_version,
            min_stock_version,
        } => {
            let product = client
                .get_product_waiting(id, min_version, min_stock_version)
                .await
                .map_err(describe)?;
            output.print(&product, render::product)
        }
        ProductsCommand::Create {
            sku,
            title,
            description,
            category,
            price,
            vendor_id,
        } => {
            let product = NewProduct {
                sku,
                title,
                description,
                category,
                price: price.money()?,
                vendor_id,
            };
            let created = client
                .create_product(&product, options)
                .await
                .map_err(describe)?;
            output.print(&created, |created| {
                render::product_created(created, &product)
            })
        }
        ProductsCommand::Price { id, price } => {
            let price = price.money()?;
            let accepted = client
                .change_price(id, &price, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&format!("Product {id} now costs {price}"), a)
            })
        }
        ProductsCommand::Publish { id } => {
            let accepted = client
                .publish_product(id, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&format!("Product {id} is published"), a)
            })
        }
        ProductsCommand::Unpublish { id } => {
            let accepted = client
                .unpublish_product(id, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&format!("Product {id} is unpublished"), a)
            })
        }
    }
}

pub async fn cart(session: &Session, command: CartCommand) -> anyhow::Result<()> {
    let Session {
        client,
        options,
        output,
    } = session;
    match command {
        CartCommand::Create => {
            let created = client.create_cart(options).await.map_err(describe)?;
            output.print(&created, render::cart_created)
        }
        CartCommand::Add {
            cart,
            product,
            quantity,
        } => {
            let accepted = client
                .add_cart_item(cart, product, quantity, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&format!("Added {quantity} of {product} to cart {cart}"), a)
            })
        }
        CartCommand::Set {
            cart,
            product,
            quantity,
        } => {
            let accepted = client
                .change_cart_item(cart, product, quantity, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                let what = if quantity == 0 {
                    format!("Removed {product} from cart {cart}")
                } else {
                    format!("Cart {cart} now holds {quantity} of {product}")
                };
                render::accepted(&what, a)
            })
        }
        CartCommand::Remove { cart, product } => {
            let accepted = client
                .remove_cart_item(cart, product, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&format!("Removed {product} from cart {cart}"), a)
            })
        }
        CartCommand::Show { cart, min_version } => {
            let document = client.get_cart(cart, min_version).await.map_err(describe)?;
            let titles = match output {
                Output::Human => {
                    product_titles(client, document.items.iter().map(|i| i.product_id)).await
                }
                Output::Json => HashMap::new(),
            };
            output.print(&document, |cart| render::cart(cart, &titles))
        }
    }
}

pub async fn checkout(session: &Session, args: CheckoutArgs) -> anyhow::Result<()> {
    let address = ShippingAddress::from(args.address);
    let placed = session
        .client
        .checkout(args.cart, &address, &args.payment_token, &session.options)
        .await
        .map_err(describe)?;
    session.output.print(&placed, render::checkout)
}

/// How long `orders show --wait` waits for an order to leave `pending`, and how often it looks.
const SETTLE_WAIT: Duration = Duration::from_secs(30);
const SETTLE_POLL: Duration = Duration::from_millis(250);

pub async fn orders(session: &Session, command: OrdersCommand) -> anyhow::Result<()> {
    let Session {
        client,
        options,
        output,
    } = session;
    match command {
        OrdersCommand::List {
            vendor_id,
            cursor,
            limit,
        } => {
            let query = OrderQuery {
                vendor_id,
                cursor,
                limit,
            };
            let page = client
                .list_orders_matching(&query)
                .await
                .map_err(describe)?;
            output.print(&page, render::order_page)
        }
        OrdersCommand::Show {
            order,
            min_version,
            wait,
        } => {
            let document = if wait {
                settled_order(client, order, min_version).await?
            } else {
                client
                    .get_order(order, min_version)
                    .await
                    .map_err(describe)?
            };
            let titles = match output {
                Output::Human => {
                    product_titles(client, document.lines.iter().map(|l| l.product_id)).await
                }
                Output::Json => HashMap::new(),
            };
            output.print(&document, |order| render::order(order, &titles))
        }
        OrdersCommand::Cancel { order, reason } => {
            let accepted = client
                .cancel_order(order, reason.as_str(), options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                let reason = reason.as_str();
                let what = format!("Order {order} is cancelled ({reason}; refunded if paid)");
                render::accepted(&what, a)
            })
        }
        OrdersCommand::Ship {
            order,
            tracking,
            vendor_id,
        } => {
            let accepted = client
                .ship_sub_order(order, &tracking, vendor_id, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&shipped_message(order, &tracking, vendor_id), a)
            })
        }
        OrdersCommand::Return {
            order,
            lines,
            vendor_id,
            reason,
        } => {
            check_return_lines(&lines)?;
            let requested = client
                .request_return(order, &lines, vendor_id, reason.as_deref(), options)
                .await
                .map_err(describe)?;
            output.print(&requested, |requested| {
                render::return_requested(order, requested)
            })
        }
        OrdersCommand::AcceptReturn {
            order,
            return_id,
            restock,
        } => {
            let accepted = client
                .accept_return(order, return_id, restock, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&return_accepted_message(order, return_id, restock), a)
            })
        }
        OrdersCommand::RejectReturn {
            order,
            return_id,
            reason,
        } => {
            let accepted = client
                .reject_return(order, return_id, &reason, options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                let what = format!("Return {return_id} of order {order} is rejected ({reason})");
                render::accepted(&what, a)
            })
        }
        OrdersCommand::SubOrder {
            order,
            vendor_id,
            min_version,
        } => {
            let view = client
                .get_sub_order(order, vendor_id, min_version)
                .await
                .map_err(describe)?;
            let titles = match output {
                Output::Human => {
                    product_titles(client, view.lines.iter().map(|l| l.product_id)).await
                }
                Output::Json => HashMap::new(),
            };
            output.print(&view, |view| render::sub_order(view, &titles))
        }
    }
}

/// What `orders ship` did: the whole order's words when no vendor was named (a vendor's own
/// sub-order, or a single vendor's order), the vendor's sub-order's otherwise.
fn shipped_message(order: Uuid, tracking: &str, vendor_id: Option<Uuid>) -> String {
    match vendor_id {
        None => format!("Order {order} is shipped, tracking {tracking}"),
        Some(vendor) => {
            format!("Order {order}: vendor {vendor}'s sub-order is shipped, tracking {tracking}")
        }
    }
}

/// What `orders accept-return` did, and what follows.
fn return_accepted_message(order: Uuid, return_id: Uuid, restock: bool) -> String {
    let stock = if restock {
        "its units go back into stock"
    } else {
        "its units are not restocked"
    };
    format!("Return {return_id} of order {order} is accepted: the refund follows and {stock}")
}

/// The order once it has left `pending` (or as it stands after [`SETTLE_WAIT`]). An order just
/// placed may not be readable yet: a 404 or 409 counts as "not yet" until the time is up.
async fn settled_order(
    client: &CommerceClient,
    order: Uuid,
    min_version: Option<i64>,
) -> anyhow::Result<OrderDocument> {
    let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
    loop {
        let read = client.get_order(order, min_version).await;
        let last_try = tokio::time::Instant::now() >= deadline;
        match read {
            Ok(document) if document.status != OrderStatus::Pending || last_try => {
                return Ok(document)
            }
            Err(e) if last_try || !(e.is_status(404) || e.is_status(409)) => {
                return Err(describe(e))
            }
            _ => tokio::time::sleep(SETTLE_POLL).await,
        }
    }
}

/// Titles of the products with `ids`, read from the catalog at once; a product the token may not
/// read (unpublished since) is left out and shown by id.
async fn product_titles(
    client: &CommerceClient,
    ids: impl Iterator<Item = Uuid>,
) -> HashMap<Uuid, String> {
    let mut unique: Vec<Uuid> = ids.collect();
    unique.sort_unstable();
    unique.dedup();
    let reads = unique.into_iter().map(|id| async move {
        client
            .get_product(id, None)
            .await
            .ok()
            .map(|product| (id, product.title))
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

pub async fn stock(session: &Session, command: StockCommand) -> anyhow::Result<()> {
    match command {
        StockCommand::Receive { product, quantity } => {
            let accepted = session
                .client
                .receive_stock(product, quantity, &session.options)
                .await
                .map_err(describe)?;
            session.output.print(&accepted, |a| {
                render::accepted(&format!("Received {quantity} units of {product}"), a)
            })
        }
    }
}

/// One line for a failed call: `HTTP 404 Not Found: no such cart` for a problem, the transport's
/// cause chain otherwise (each cause once: `ClientError`'s own message already repeats its source).
pub fn describe(error: ClientError) -> anyhow::Error {
    match error {
        ClientError::Problem { status, problem } => {
            let mut line = format!("HTTP {status} {}", problem.title);
            if !problem.detail.is_empty() {
                line.push_str(": ");
                line.push_str(&problem.detail);
            }
            if let Some(body) = &problem.raw_body {
                line.push_str(&format!(" (body: {})", body.trim()));
            }
            anyhow::anyhow!(line)
        }
        ClientError::Transport(e) => anyhow::Error::new(e).context("request failed"),
        decode @ ClientError::Decode { .. } => anyhow::anyhow!("{decode}"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Checkout {
        #[command(flatten)]
        args: CheckoutArgs,
    }

    #[test]
    fn checkout_takes_the_address_part_by_part() {
        let cart = Uuid::from_u128(1);
        let parsed = Checkout::try_parse_from([
            "checkout",
            &cart.to_string(),
            "--name",
            "Ada Lovelace",
            "--line1",
            "Unter den Linden 1",
            "--city",
            "Berlin",
            "--postal-code",
            "10117",
            "--country",
            "DE",
        ])
        .expect("parses");
        assert_eq!(parsed.args.cart, cart);
        assert_eq!(parsed.args.payment_token, "tok_ok");
        let address = ShippingAddress::from(parsed.args.address);
        assert_eq!(address.postal_code, "10117");
        assert_eq!((address.line2, address.region), (None, None));
        let missing_country = Checkout::try_parse_from([
            "checkout",
            &cart.to_string(),
            "--name",
            "Ada",
            "--line1",
            "x",
            "--city",
            "y",
            "--postal-code",
            "1",
        ]);
        assert!(
            missing_country.is_err(),
            "every required part is a required flag"
        );
    }

    #[derive(Parser)]
    struct Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    }

    #[test]
    fn orders_ship_takes_an_optional_vendor_and_says_whose_sub_order_shipped() {
        let (order, vendor) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let parsed = Orders::try_parse_from([
            "orders",
            "ship",
            &order.to_string(),
            "--tracking",
            "1Z 999 AA1",
            "--vendor-id",
            &vendor.to_string(),
        ])
        .expect("parses");
        assert!(matches!(
            parsed.command,
            OrdersCommand::Ship { vendor_id: Some(v), .. } if v == vendor
        ));
        let whole = Orders::try_parse_from([
            "orders",
            "ship",
            &order.to_string(),
            "--tracking",
            "1Z 999 AA1",
        ])
        .expect("parses");
        assert!(matches!(
            whole.command,
            OrdersCommand::Ship {
                vendor_id: None,
                ..
            }
        ));
        assert_eq!(
            shipped_message(order, "1Z 999 AA1", None),
            format!("Order {order} is shipped, tracking 1Z 999 AA1")
        );
        assert_eq!(
            shipped_message(order, "1Z 999 AA1", Some(vendor)),
            format!("Order {order}: vendor {vendor}'s sub-order is shipped, tracking 1Z 999 AA1")
        );
    }

    #[test]
    fn orders_sub_order_and_list_take_the_vendor() {
        let (order, vendor) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let parsed = Orders::try_parse_from([
            "orders",
            "sub-order",
            &order.to_string(),
            &vendor.to_string(),
            "--min-version",
            "3",
        ])
        .expect("parses");
        assert!(matches!(
            parsed.command,
            OrdersCommand::SubOrder { order: o, vendor_id: v, min_version: Some(3) }
                if o == order && v == vendor
        ));
        let listed = Orders::try_parse_from(["orders", "list", "--vendor-id", &vendor.to_string()])
            .expect("parses");
        assert!(matches!(
            listed.command,
            OrdersCommand::List { vendor_id: Some(v), cursor: None, limit: None } if v == vendor
        ));
    }

    #[test]
    fn orders_return_takes_lines_a_vendor_and_a_reason() {
        let (order, vendor) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (tee, mug) = (Uuid::from_u128(3), Uuid::from_u128(4));
        let parsed = Orders::try_parse_from([
            "orders",
            "return",
            &order.to_string(),
            "--line",
            &format!("{tee}:2"),
            "--line",
            &format!(" {mug} : 1 "),
            "--vendor-id",
            &vendor.to_string(),
            "--reason",
            "too small",
        ])
        .expect("parses");
        let OrdersCommand::Return {
            order: o,
            lines,
            vendor_id,
            reason,
        } = parsed.command
        else {
            panic!("not a return");
        };
        assert_eq!(o, order);
        assert_eq!(
            lines,
            vec![
                ReturnItem {
                    product_id: tee,
                    quantity: 2
                },
                ReturnItem {
                    product_id: mug,
                    quantity: 1
                }
            ]
        );
        assert_eq!(
            (vendor_id, reason.as_deref()),
            (Some(vendor), Some("too small"))
        );
        let bare = Orders::try_parse_from(["orders", "return", &order.to_string()]);
        assert!(bare.is_err(), "a return names at least one --line");
        let blank = Orders::try_parse_from([
            "orders",
            "return",
            &order.to_string(),
            "--line",
            &format!("{tee}:1"),
            "--reason",
            "  ",
        ]);
        assert!(blank.is_err(), "a reason says something");
    }

    #[test]
    fn a_return_line_is_refused_in_words_that_say_which_part_is_wrong() {
        let tee = Uuid::from_u128(3);
        assert_eq!(
            parse_return_line(&format!("{tee}:99")),
            Ok(ReturnItem {
                product_id: tee,
                quantity: 99
            })
        );
        for (text, words) in [
            (tee.to_string(), "is not a line: write PRODUCT_ID:QUANTITY"),
            ("2".to_owned(), "is not a line"),
            ("tee:2".to_owned(), "`tee` is not a product id"),
            (":2".to_owned(), "is not a product id"),
            (
                format!("{tee}:0"),
                "`0` is not a quantity to return: a line returns 1 to 99 units",
            ),
            (format!("{tee}:100"), "`100` is not a quantity"),
            (format!("{tee}:-1"), "`-1` is not a quantity"),
            (format!("{tee}:two"), "`two` is not a quantity"),
            (format!("{tee}:"), "is not a quantity"),
        ] {
            let error = parse_return_line(&text).expect_err(&text);
            assert!(error.contains(words), "{text}: {error}");
        }
        let refused = Orders::try_parse_from([
            "orders",
            "return",
            &Uuid::from_u128(1).to_string(),
            "--line",
            &format!("{tee}:0"),
        ])
        .err()
        .expect("refused while parsing")
        .to_string();
        assert!(
            refused.contains("a line returns 1 to 99 units"),
            "{refused}"
        );
    }

    #[test]
    fn a_return_names_each_product_once_and_at_most_fifty() {
        let item = |n: u128| ReturnItem {
            product_id: Uuid::from_u128(n),
            quantity: 1,
        };
        assert!(check_return_lines(&[item(1), item(2)]).is_ok());
        let twice = check_return_lines(&[item(1), item(2), item(1)]).expect_err("twice");
        assert_eq!(
            twice.to_string(),
            format!(
                "--line names product {} twice: give each product once, with all its units",
                Uuid::from_u128(1)
            )
        );
        let many: Vec<_> = (0..51).map(item).collect();
        assert!(check_return_lines(&many[..50]).is_ok());
        let too_many = check_return_lines(&many).expect_err("51 lines");
        assert!(
            too_many.to_string().contains("at most 50 --line, got 51"),
            "{too_many}"
        );
    }

    #[test]
    fn a_vendor_accepts_with_or_without_restock_and_rejects_with_a_reason() {
        let (order, returned) = (Uuid::from_u128(1), Uuid::from_u128(10));
        let ids = [order.to_string(), returned.to_string()];
        let accept = |extra: &[&str]| {
            let mut args = vec!["orders", "accept-return", &ids[0], &ids[1]];
            args.extend_from_slice(extra);
            Orders::try_parse_from(args).expect("parses").command
        };
        assert!(matches!(
            accept(&["--restock"]),
            OrdersCommand::AcceptReturn { order: o, return_id: r, restock: true }
                if o == order && r == returned
        ));
        assert!(matches!(
            accept(&[]),
            OrdersCommand::AcceptReturn { restock: false, .. }
        ));
        let rejected = Orders::try_parse_from([
            "orders",
            "reject-return",
            &ids[0],
            &ids[1],
            "--reason",
            "worn",
        ])
        .expect("parses");
        assert!(matches!(
            rejected.command,
            OrdersCommand::RejectReturn { reason, .. } if reason == "worn"
        ));
        let without_reason = Orders::try_parse_from(["orders", "reject-return", &ids[0], &ids[1]]);
        assert!(without_reason.is_err(), "a rejection says why");
        let swapped = Orders::try_parse_from(["orders", "accept-return", &ids[0], "RETURN"]);
        assert!(swapped.is_err(), "the return is an id");
        assert_eq!(
            return_accepted_message(order, returned, true),
            format!(
                "Return {returned} of order {order} is accepted: the refund follows and its \
                 units go back into stock"
            )
        );
        assert!(return_accepted_message(order, returned, false)
            .ends_with("its units are not restocked"));
    }

    #[test]
    fn a_problem_is_described_by_status_title_and_detail() {
        let problem = commerce_client::Problem {
            title: "Not Found".into(),
            detail: "no such cart".into(),
            ..Default::default()
        };
        let error = ClientError::Problem {
            status: 404,
            problem: Box::new(problem),
        };
        assert_eq!(
            describe(error).to_string(),
            "HTTP 404 Not Found: no such cart"
        );
    }
}
