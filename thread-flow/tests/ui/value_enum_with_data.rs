use thread_flow::D1Value;

#[derive(D1Value)]
enum Shape {
    Circle(f64),
    Square { side: f64 },
    Empty,
}

fn main() {}
