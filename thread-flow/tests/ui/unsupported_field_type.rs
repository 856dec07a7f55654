use thread_flow::D1Target;

struct Point {
    x: i32,
    y: i32,
}

#[derive(D1Target)]
struct Place {
    #[d1(primary_key)]
    id: i64,
    location: Point,
}

fn main() {}
