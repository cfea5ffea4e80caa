//! The CLI's argument errors: checked before anything is sent, in words that say what was wrong
//! and what is allowed (the ranges the API checks).
use std::process::Command;

/// Runs `commerce` with `args` (no service needed: each is refused while parsing).
fn refused(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(args)
        .env("COMMERCE_LOCAL_MODE", "true")
        .output()
        .expect("run commerce");
    assert_eq!(output.status.code(), Some(2), "{args:?} is a usage error");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const ID: &str = "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708192";

#[test]
fn arguments_out_of_range_or_not_ids_are_refused_with_what_is_allowed() {
    // A valid `products create` with one flag's value replaced.
    let product = |flag: &'static str, value: &'static str| {
        let mut args = vec!["products", "create", "--sku", "MUG-1", "--title", "Mug"];
        args.extend([
            "--category",
            "kitchen",
            "--price",
            "12.50",
            "--currency",
            "EUR",
        ]);
        if let Some(at) = args.iter().position(|arg| *arg == flag) {
            args[at + 1] = value;
        }
        args
    };
    let too_precise = product("--price", "12.505");
    let bad_sku = product("--sku", "MUG 1");
    let bad_currency = product("--currency", "EUX");
    let cases: [(&[&str], &str); 13] = [
        (&too_precise, "has 3 decimals; EUR has 2"),
        (&bad_sku, "may contain only ASCII letters, digits"),
        (&bad_currency, "not an ISO 4217 currency code"),
        (
            &["products", "price", ID, "--price", "0", "--currency", "EUR"],
            "must be 1 to 100000000000 minor units, got 0",
        ),
        (
            &["orders", "cancel", ID, "--reason", "changed-mind"],
            "customer_request",
        ),
        (
            &["orders", "ship", ID, "--tracking", "#1"],
            "may contain only",
        ),
        (&["cart", "add", "PRODUCT", ID], "is not an id"),
        (&["cart", "add", ID, ID, "--quantity", "0"], "1..=99"),
        (
            &["cart", "add", ID, ID, "--quantity", "4294967295"],
            "1..=99",
        ),
        (&["cart", "add", ID, ID, "--quantity", "-1"], "-1"),
        (&["cart", "set", ID, ID, "100"], "0..=99"),
        (&["stock", "receive", ID, "1000001"], "1..=1000000"),
        (&["orders", "show", "not-an-order"], "is not an id"),
    ];
    for (args, words) in cases {
        let stderr = refused(args);
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("invalid character"),
            "{args:?}: no parser jargon: {stderr}"
        );
    }
}

#[test]
fn every_positional_argument_and_the_role_say_what_they_are() {
    for (args, words) in [
        (&["cart", "add", "--help"][..], "The cart's id"),
        (&["cart", "add", "--help"][..], "The product's id"),
        (
            &["stock", "receive", "--help"][..],
            "Units received, 1 to 1,000,000",
        ),
        (&["token", "--help"][..], "customer"),
        (&["token", "--help"][..], "analyst or ops"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_commerce"))
            .args(args)
            .output()
            .expect("run commerce");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains(words), "{args:?}: {help}");
    }
}

#[test]
fn a_vendor_application_needs_its_name_and_an_admission_its_reason() {
    for (args, words) in [
        (
            &["vendors", "apply", "--contact-email", "sales@acme.test"][..],
            "--name",
        ),
        (
            &[
                "vendors",
                "apply",
                "--name",
                "Acme",
                "--contact-email",
                "sales@acme.test",
                "--approve",
            ][..],
            "--reason",
        ),
        (
            &[
                "vendors",
                "apply",
                "--name",
                "Acme",
                "--contact-email",
                "acme",
            ][..],
            "name@example.com",
        ),
        (&["vendors", "approve", ID][..], "--reason"),
        (
            &["vendors", "suspend", "not-a-vendor", "--reason", "x"][..],
            "is not an id",
        ),
    ] {
        let stderr = refused(args);
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
}
