use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(table = "a")]
#[d1(table = "b")]
struct User {
    #[d1(primary_key, primary_key)]
    id: i64,
    #[d1(rename = "x", rename = "y")]
    name: String,
}

fn main() {}
