//! Parses stock lines of the form `sku,category,cents,quantity`.

use crate::inventory::{Category, Inventory, Item};

/// Why a line was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    MissingField(&'static str),
    BadNumber(String),
}

/// A line parser with a configurable separator.
pub struct Parser {
    separator: char,
}

impl Parser {
    pub fn new(separator: char) -> Parser {
        Parser { separator }
    }

    pub fn parse_line(&self, line: &str) -> Result<(Item, u32), ParseError> {
        let mut fields = line.split(self.separator);
        let mut next = |name| fields.next().ok_or(ParseError::MissingField(name));
        let sku = next("sku")?.to_owned();
        let category = match next("category")? {
            "tool" => Category::Tool,
            _ => Category::Part,
        };
        let cents = number(next("cents")?)?;
        let quantity = number(next("quantity")?)?;
        Ok((Item { sku, category, cents }, quantity as u32))
    }
}

fn number(text: &str) -> Result<u64, ParseError> {
    text.trim().parse().map_err(|_| ParseError::BadNumber(text.to_owned()))
}

/// Reads every non-empty line of `text` into an inventory.
pub fn load(text: &str) -> Result<Inventory, ParseError> {
    let parser = Parser::new(',');
    let mut inventory = Inventory::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (item, quantity) = parser.parse_line(line)?;
        inventory.add(item, quantity);
    }
    Ok(inventory)
}
