use thread_flow::D1Target;

struct Handle;

#[derive(D1Target)]
struct Job {
    #[d1(primary_key)]
    id: i64,
    #[d1(skip)]
    handle: Handle,
}

fn main() {}
