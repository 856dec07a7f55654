//! Stock keeping for a small shop.

use std::collections::BTreeMap;

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Tool,
    Part,
}

/// Anything with a price in cents.
pub trait Priced {
    fn price_cents(&self) -> u64;

    fn price_label(&self) -> String {
        format!("{}.{:02}", self.price_cents() / 100, self.price_cents() % 100)
    }
}

/// One line of stock.
#[derive(Debug, Clone)]
pub struct Item {
    pub sku: String,
    pub category: Category,
    pub cents: u64,
}

impl Priced for Item {
    fn price_cents(&self) -> u64 {
        self.cents
    }
}

/// All items by SKU, with quantities.
#[derive(Debug, Default)]
pub struct Inventory {
    items: BTreeMap<String, (Item, u32)>,
}

impl Inventory {
    pub fn new() -> Inventory {
        Inventory::default()
    }

    pub fn add(&mut self, item: Item, quantity: u32) {
        let entry = self.items.entry(item.sku.clone()).or_insert((item, 0));
        entry.1 += quantity;
    }

    pub fn value_cents(&self) -> u64 {
        self.items.values().map(|(item, n)| item.price_cents() * u64::from(*n)).sum()
    }
}

pub const MAX_SKUS: usize = 10_000;

pub mod restock {
    use super::Inventory;

    pub fn low_stock(inventory: &Inventory, threshold: u32) -> Vec<String> {
        let _ = (inventory, threshold);
        Vec::new()
    }
}
