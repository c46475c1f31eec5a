/// Adds two numbers.
///
/// ```
/// assert_eq!(demo::add(1, 1), 2);
/// ```
pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes() {
        assert_eq!(super::add(1, 1), 2);
    }

    #[test]
    fn fails() {
        assert_eq!(super::add(1, 1), 3);
    }

    #[test]
    #[ignore]
    fn ignored() {}
}
