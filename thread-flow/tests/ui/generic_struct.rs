use thread_flow::D1Target;

#[derive(D1Target)]
struct Row<T> {
    #[d1(primary_key)]
    id: i64,
    value: T,
}

fn main() {}
