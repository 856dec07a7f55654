use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(table = "_cf_KV")]
struct Settings {
    #[d1(primary_key)]
    key: String,
    value: String,
}

fn main() {}
