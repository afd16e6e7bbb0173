//! The `type: script` rule language: a tiny, safe boolean expression evaluator.
//!
//! Literals (numbers, `'text'`/`"text"`, `true`, `false`, `null`), property identifiers,
//! comparisons `== != < <= > >=` (not chained), `and`/`&&`, `or`/`||`, `not`/`!` and
//! parentheses. No calls, loops or I/O; input is bounded in length and nesting, so evaluation is
//! linear in the script. A missing property reads as `null`. Comparisons use the same
//! type-tolerant rules as statement conditions.

use serde_json::{Map, Number, Value};

use super::rules::{loose_cmp, loose_eq, truthy};

/// Longest script accepted.
pub(crate) const MAX_LEN: usize = 1024;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Value),
    Var(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Expr {
    pub(crate) fn eval(&self, props: &Map<String, Value>) -> Value {
        match self {
            Expr::Lit(v) => v.clone(),
            Expr::Var(name) => props.get(name).cloned().unwrap_or(Value::Null),
            Expr::Not(e) => Value::Bool(!truthy(&e.eval(props))),
            Expr::And(a, b) => Value::Bool(truthy(&a.eval(props)) && truthy(&b.eval(props))),
            Expr::Or(a, b) => Value::Bool(truthy(&a.eval(props)) || truthy(&b.eval(props))),
            Expr::Cmp(op, a, b) => {
                let (a, b) = (a.eval(props), b.eval(props));
                let r = match op {
                    CmpOp::Eq => loose_eq(&a, &b),
                    CmpOp::Ne => !loose_eq(&a, &b),
                    CmpOp::Lt => loose_cmp(&a, &b).is_some_and(|o| o.is_lt()),
                    CmpOp::Le => loose_cmp(&a, &b).is_some_and(|o| o.is_le()),
                    CmpOp::Gt => loose_cmp(&a, &b).is_some_and(|o| o.is_gt()),
                    CmpOp::Ge => loose_cmp(&a, &b).is_some_and(|o| o.is_ge()),
                };
                Value::Bool(r)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Number),
    Str(String),
    Ident(String),
    LParen,
    RParen,
    Minus,
    Bang,
    AndAnd,
    OrOr,
    Cmp(CmpOp),
}

/// Parses a script; the error says what is wrong and where.
pub(crate) fn parse(src: &str) -> Result<Expr, String> {
    if src.len() > MAX_LEN {
        return Err(format!("script is longer than {MAX_LEN} bytes"));
    }
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err("script is empty".into());
    }
    let mut p = ExprParser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!(
            "unexpected {} after the expression",
            describe(&p.toks[p.pos])
        ));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Minus => "`-`".into(),
        Tok::Bang => "`!`".into(),
        Tok::AndAnd => "`&&`".into(),
        Tok::OrOr => "`||`".into(),
        Tok::Cmp(_) => "a comparison".into(),
    }
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        let two = |t: Tok| (t, 2);
        let (tok, len) = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            ('-', _) => (Tok::Minus, 1),
            ('=', Some('=')) => two(Tok::Cmp(CmpOp::Eq)),
            ('!', Some('=')) => two(Tok::Cmp(CmpOp::Ne)),
            ('<', Some('=')) => two(Tok::Cmp(CmpOp::Le)),
            ('>', Some('=')) => two(Tok::Cmp(CmpOp::Ge)),
            ('<', _) => (Tok::Cmp(CmpOp::Lt), 1),
            ('>', _) => (Tok::Cmp(CmpOp::Gt), 1),
            ('!', _) => (Tok::Bang, 1),
            ('&', Some('&')) => two(Tok::AndAnd),
            ('|', Some('|')) => two(Tok::OrOr),
            ('\'' | '"', _) => {
                let (s, len) = lex_string(&chars[i..])?;
                (Tok::Str(s), len)
            }
            (c, _) if c.is_ascii_digit() || c == '.' => {
                let len = chars[i..]
                    .iter()
                    .enumerate()
                    .take_while(|&(j, &d)| {
                        d.is_ascii_alphanumeric()
                            || d == '.'
                            || ((d == '+' || d == '-')
                                && j > 0
                                && matches!(chars[i + j - 1], 'e' | 'E'))
                    })
                    .count();
                let text: String = chars[i..i + len].iter().collect();
                (Tok::Num(number(&text)?), len)
            }
            (c, _) if c.is_ascii_alphabetic() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|d| d.is_ascii_alphanumeric() || **d == '_')
                    .count();
                (Tok::Ident(chars[i..i + len].iter().collect()), len)
            }
            (c, _) => return Err(format!("unexpected character `{c}` at {i}")),
        };
        toks.push(tok);
        i += len;
    }
    Ok(toks)
}

fn number(text: &str) -> Result<Number, String> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into());
    }
    text.parse::<f64>()
        .ok()
        .filter(|_| text.bytes().any(|b| b.is_ascii_digit()))
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("`{text}` is not a number"))
}

/// A quoted string starting at `chars[0]`; returns the text and the characters consumed.
fn lex_string(chars: &[char]) -> Result<(String, usize), String> {
    let quote = chars[0];
    let mut out = String::new();
    let mut i = 1;
    while let Some(&c) = chars.get(i) {
        match c {
            c if c == quote => return Ok((out, i + 1)),
            '\\' => {
                let e = chars.get(i + 1).ok_or("unterminated string")?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    other => *other,
                });
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated string".into())
}

struct ExprParser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl ExprParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == word)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.is_word("or") || self.peek() == Some(&Tok::OrOr) {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.is_word("and") || self.peek() == Some(&Tok::AndAnd) {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.is_word("not") || self.peek() == Some(&Tok::Bang) {
            self.pos += 1;
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.primary()?;
        let Some(Tok::Cmp(op)) = self.peek().cloned() else {
            return Ok(left);
        };
        self.pos += 1;
        let right = self.primary()?;
        if let Some(Tok::Cmp(_)) = self.peek() {
            return Err("comparisons cannot be chained; use `and`".into());
        }
        Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("script is nested too deeply".into());
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self
            .peek()
            .cloned()
            .ok_or("the script ends where a value was expected")?;
        self.pos += 1;
        Ok(match tok {
            Tok::Num(n) => Expr::Lit(Value::Number(n)),
            Tok::Str(s) => Expr::Lit(Value::String(s)),
            Tok::Minus => match self.peek().cloned() {
                Some(Tok::Num(n)) => {
                    self.pos += 1;
                    Expr::Lit(Value::Number(negate(&n)?))
                }
                _ => return Err("`-` must precede a number".into()),
            },
            Tok::LParen => {
                self.enter()?;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                e
            }
            Tok::Ident(w) => match w.as_str() {
                "true" | "True" => Expr::Lit(Value::Bool(true)),
                "false" | "False" => Expr::Lit(Value::Bool(false)),
                "null" | "None" => Expr::Lit(Value::Null),
                "and" | "or" | "not" => return Err(format!("unexpected `{w}`")),
                _ => Expr::Var(w),
            },
            other => return Err(format!("unexpected {}", describe(&other))),
        })
    }
}

fn negate(n: &Number) -> Result<Number, String> {
    if let Some(i) = n.as_i64() {
        return Ok((-i).into());
    }
    n.as_f64()
        .and_then(|f| Number::from_f64(-f))
        .ok_or_else(|| format!("cannot negate {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(src: &str, props: Value) -> bool {
        let Value::Object(props) = props else {
            panic!("props must be an object")
        };
        truthy(
            &parse(src)
                .unwrap_or_else(|e| panic!("{src}: {e}"))
                .eval(&props),
        )
    }

    #[test]
    fn evaluates_literals_comparisons_and_logic() {
        assert!(run("1 == 1", json!({})));
        assert!(!run("1 == 2", json!({})));
        assert!(run(
            "AGE >= 18 and CONTINUE == 'true'",
            json!({"AGE": 20, "CONTINUE": true})
        ));
        assert!(!run(
            "AGE >= 18 && CONTINUE",
            json!({"AGE": 20, "CONTINUE": false})
        ));
        assert!(run("not (AGE < 18) || false", json!({"AGE": 18})));
        assert!(run("!MISSING", json!({})));
        assert!(run("MISSING == null", json!({})));
        assert!(run("SCORE > -0.5", json!({"SCORE": 0.1})));
        assert!(run("NAME != \"Bob\"", json!({"NAME": "Alice"})));
        assert!(run("2.5e1 == 25", json!({})));
        assert!(
            run("true or false and false", json!({})),
            "and binds tighter than or"
        );
    }

    #[test]
    fn rejects_bad_scripts() {
        for bad in [
            "",
            "1 ==",
            "(1 == 1",
            "1 = 1",
            "a == b == c",
            "'open",
            "f(1)",
            "1 == 1 extra",
            "x ; y",
            "and",
            "- x",
            "1.2.3 == 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse(&"(".repeat(100)).unwrap_err().contains("deeply"));
        assert!(
            parse(&format!("{} == 1", "x".repeat(2000)))
                .unwrap_err()
                .contains("longer")
        );
    }
}
