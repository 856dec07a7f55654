use thread_flow::D1Target;

#[derive(D1Target)]
struct Note {
    id: i64,
    body: String,
}

fn main() {}
