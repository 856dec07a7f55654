use thread_flow::D1Target;

#[derive(D1Target)]
struct Task {
    #[d1(primary_key)]
    id: i64,
    #[d1(default = "high")]
    priority: i64,
}

fn main() {}
