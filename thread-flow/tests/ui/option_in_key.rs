use thread_flow::D1Target;

#[derive(D1Target)]
struct Note {
    #[d1(primary_key)]
    id: Option<i64>,
    body: String,
}

fn main() {}
