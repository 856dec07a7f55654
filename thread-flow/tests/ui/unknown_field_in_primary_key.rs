use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(primary_key(file, lien))]
struct Symbol {
    file: String,
    line: i64,
}

fn main() {}
