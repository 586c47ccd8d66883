// Every bad attribute is reported at once, each where it is written.
#[derive(siderpy::FromValue)]
#[siderpy(rename_all = "camelCase")]
struct User {
    #[siderpy(rename = 5)]
    name: String,
    #[siderpy(flatten)]
    extra: String,
}

#[derive(siderpy::ToArgs)]
struct Pair(String, String);

#[derive(siderpy::FromValue)]
enum Status {
    Active(u32),
}

fn main() {}
