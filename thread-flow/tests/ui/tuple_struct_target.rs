use thread_flow::D1Target;

#[derive(D1Target)]
struct Pair(i64, String);

fn main() {}
