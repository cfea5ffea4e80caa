use serde::{Deserialize, Serialize};

use crate::{CustomerId, VendorId};

/// The authenticated party behind a command. Aggregates check ownership against it, so the rule
/// "a vendor acts only on its own products" is tested with the rest of the business rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Actor {
    /// A vendor acting for its own catalogue.
    Vendor { vendor_id: VendorId },
    /// Marketplace staff, allowed to act on any vendor's data.
    Admin,
    /// A shopper acting on its own carts and orders.
    Customer { customer_id: CustomerId },
    /// A process of the platform itself (the order-fulfilment saga), never a person.
    System,
}

impl Actor {
    /// Whether this actor may act on vendor data owned by `owner`. Customers and the system never
    /// may: catalogue and stock belong to vendors and the staff who help them.
    pub fn may_act_for(&self, owner: VendorId) -> bool {
        match self {
            Actor::Admin => true,
            Actor::Vendor { vendor_id } => *vendor_id == owner,
            Actor::Customer { .. } | Actor::System => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn only_the_owning_vendor_or_an_admin_may_act_for_a_vendor() {
        let owner = VendorId(Uuid::from_u128(1));
        assert!(Actor::Admin.may_act_for(owner));
        assert!(Actor::Vendor { vendor_id: owner }.may_act_for(owner));
        assert!(!Actor::Vendor {
            vendor_id: VendorId(Uuid::from_u128(2))
        }
        .may_act_for(owner));
        assert!(!Actor::Customer {
            customer_id: CustomerId(Uuid::from_u128(1))
        }
        .may_act_for(owner));
        assert!(!Actor::System.may_act_for(owner));
    }

    #[test]
    fn actors_serialise_with_their_role() {
        let customer = Actor::Customer {
            customer_id: CustomerId(Uuid::from_u128(7)),
        };
        let json = serde_json::to_value(&customer).unwrap();
        assert_eq!(json["role"], "customer");
        assert_eq!(serde_json::from_value::<Actor>(json).unwrap(), customer);
        assert_eq!(
            serde_json::to_value(Actor::System).unwrap(),
            serde_json::json!({"role": "system"})
        );
    }
}
