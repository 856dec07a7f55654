use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(primary_key(sensor, reading))]
struct Sample {
    sensor: String,
    reading: f64,
}

fn main() {}
