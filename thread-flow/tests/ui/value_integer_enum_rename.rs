use thread_flow::D1Value;

#[derive(D1Value)]
#[d1(rename_all = "snake_case")]
enum Priority {
    Low = 1,
    #[d1(rename = "urgent")]
    High = 2,
}

#[derive(D1Value)]
#[d1(sql_type = "INTEGER")]
enum Mixed {
    A = 1,
    B,
}

fn main() {}
