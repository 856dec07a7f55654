use thread_flow::D1Target;

#[derive(D1Target)]
enum Status {
    Active,
    Disabled,
}

fn main() {}
