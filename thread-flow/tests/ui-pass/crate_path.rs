//! `crate = "..."` points the generated code at a renamed runtime crate.
extern crate thread_flow as renamed;

use renamed::{D1Target, D1Value};

#[derive(Clone, Debug, PartialEq, D1Value)]
#[d1(crate = "::renamed")]
enum Color {
    Red,
    Green,
}

#[derive(Clone, Debug, D1Target)]
#[d1(crate = "::renamed", primary_key(color, name))]
struct Paint {
    color: Color,
    name: String,
    #[d1(default = 0.5)]
    gloss: f64,
}

fn main() {
    let schema = <Paint as D1Target>::schema();
    assert_eq!(schema.name, "paint");
    let row = Paint { color: Color::Green, name: "moss".into(), gloss: 0.1 };
    assert_eq!(row.key(), (Color::Green, "moss".to_string()));
}
