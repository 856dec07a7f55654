use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(json)]
struct Note {
    #[d1(primary_key, table = "notes")]
    id: i64,
}

fn main() {}
