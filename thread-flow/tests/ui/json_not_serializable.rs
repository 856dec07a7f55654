use thread_flow::D1Target;

struct Opaque;

#[derive(D1Target)]
struct Note {
    #[d1(primary_key)]
    id: i64,
    #[d1(json)]
    payload: Opaque,
}

fn main() {}
