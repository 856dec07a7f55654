use thread_flow::D1Target;

#[derive(D1Target)]
struct Edge {
    #[d1(primary_key)]
    from: i64,
    #[d1(primary_key)]
    to: i64,
}

fn main() {}
