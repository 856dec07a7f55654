use thread_flow::D1Target;

#[derive(D1Target)]
struct Doc {
    #[d1(primary_key, json)]
    path: Vec<String>,
    body: String,
}

fn main() {}
