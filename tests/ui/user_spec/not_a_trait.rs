// The syntax is `[pub] trait Name = "path";`.
siderpy::commands!(pub struct Json = "specs/json.json");

fn main() {}
