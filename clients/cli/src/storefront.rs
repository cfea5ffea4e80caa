//! `commerce products|cart|checkout|orders|stock`: the public API through `commerce-client`, one
//! call per subcommand, answers printed as pretty JSON on stdout.
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use commerce_client::{ClientError, CommandOptions, CommerceClient, ProductQuery, ShippingAddress};
use serde::Serialize;
use uuid::Uuid;

/// A read with `min_version` may wait 2 s on the server; this leaves room for that and more.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the services are and who is asking.
#[derive(Debug, Clone)]
pub struct ApiTarget {
    pub command_api: String,
    pub read_api: String,
    /// A bearer token (e.g. from `commerce token`); without one the server answers 401.
    pub token: Option<String>,
}

impl ApiTarget {
    pub fn client(&self) -> anyhow::Result<CommerceClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let client = CommerceClient::with_http_client(http, &self.command_api, &self.read_api);
        Ok(match &self.token {
            Some(token) => client.with_token(token),
            None => client,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// Published products in the catalog (read API).
    List {
        #[arg(long)]
        category: Option<String>,
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
}

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
    /// The cart as its owner reads it (read API).
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
    /// One order (read API).
    Show {
        /// The order's id (from `commerce checkout`).
        #[arg(value_parser = parse_id)]
        order: Uuid,
        /// Wait (at most 2 s) until the read side has this version.
        #[arg(long)]
        min_version: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Add units to a product's stock (owning vendor or admin).
    Receive {
        /// The product's id.
        #[arg(value_parser = parse_id)]
        product: Uuid,
        /// Units received, 1 to 1,000,000.
        #[arg(value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        quantity: u32,
    },
}

/// An id argument: a UUID, said in words when it is not one (clap would quote the parser's
/// "invalid character" at a position).
pub fn parse_id(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        format!(
            "`{text}` is not an id: ids are UUIDs such as 0191e5c4-3f7a-7c2e-9b1d-4a5e6f708192 \
             (check the order of the arguments in --help)"
        )
    })
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
    /// Who receives the parcel.
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub line1: String,
    #[arg(long)]
    pub line2: Option<String>,
    #[arg(long)]
    pub city: String,
    /// State, province or county, where the country uses one.
    #[arg(long)]
    pub region: Option<String>,
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

pub async fn products(client: &CommerceClient, command: ProductsCommand) -> anyhow::Result<()> {
    match command {
        ProductsCommand::List {
            category,
            q,
            cursor,
            limit,
        } => {
            let query = ProductQuery {
                category,
                q,
                cursor,
                limit,
                ..ProductQuery::default()
            };
            print_answer(client.list_products(&query).await)
        }
        ProductsCommand::Show {
            id,
            min_version,
            min_stock_version,
        } => print_answer(
            client
                .get_product_waiting(id, min_version, min_stock_version)
                .await,
        ),
    }
}

pub async fn cart(client: &CommerceClient, command: CartCommand) -> anyhow::Result<()> {
    let options = CommandOptions::default();
    match command {
        CartCommand::Create => print_answer(client.create_cart(&options).await),
        CartCommand::Add {
            cart,
            product,
            quantity,
        } => print_answer(
            client
                .add_cart_item(cart, product, quantity, &options)
                .await,
        ),
        CartCommand::Set {
            cart,
            product,
            quantity,
        } => print_answer(
            client
                .change_cart_item(cart, product, quantity, &options)
                .await,
        ),
        CartCommand::Remove { cart, product } => {
            print_answer(client.remove_cart_item(cart, product, &options).await)
        }
        CartCommand::Show { cart, min_version } => {
            print_answer(client.get_cart(cart, min_version).await)
        }
    }
}

pub async fn checkout(client: &CommerceClient, args: CheckoutArgs) -> anyhow::Result<()> {
    let options = CommandOptions::default();
    let address = ShippingAddress::from(args.address);
    print_answer(
        client
            .checkout(args.cart, &address, &args.payment_token, &options)
            .await,
    )
}

pub async fn orders(client: &CommerceClient, command: OrdersCommand) -> anyhow::Result<()> {
    match command {
        OrdersCommand::Show { order, min_version } => {
            print_answer(client.get_order(order, min_version).await)
        }
    }
}

pub async fn stock(client: &CommerceClient, command: StockCommand) -> anyhow::Result<()> {
    match command {
        StockCommand::Receive { product, quantity } => print_answer(
            client
                .receive_stock(product, quantity, &CommandOptions::default())
                .await,
        ),
    }
}

/// Pretty JSON on stdout for an answer; a refusal becomes an error carrying its status, title and
/// detail, which `main` prints on stderr before exiting non-zero.
fn print_answer<T: Serialize>(answer: Result<T, ClientError>) -> anyhow::Result<()> {
    let value = answer.map_err(describe)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
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
