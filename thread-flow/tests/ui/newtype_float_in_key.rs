use thread_flow::{D1Target, D1Value};

#[derive(Clone, D1Value)]
struct Meters(f64);

#[derive(D1Target)]
struct Measure {
    #[d1(primary_key)]
    distance: Meters,
    label: String,
}

fn main() {}
