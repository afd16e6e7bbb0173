//! Reading an MRZ from OCR output: finding its lines, fixing their length at filler runs and
//! correcting lookalike characters by field type.

use chrono::NaiveDate;

use crate::parse::{detect, parse_lines};
use crate::{CheckField, Format, Mrz, MrzError};

/// What a column of the MRZ may hold, for lookalike corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Letters (document code, issuing state, nationality): digits that look like letters
    /// are read as letters.
    Alpha,
    /// A name: like `Alpha`, and a `K` inside the trailing filler run is read as `<`.
    Name,
    /// Digits (dates, check digits): letters that look like digits are read as digits.
    Numeric,
    /// The document number: letters and digits, corrected only when that makes its check
    /// digit pass.
    Number,
    /// Optional data and the sex: left as read.
    Free,
}

/// Column spans (from, to, inclusive, from 1) of each line of a format and what they hold.
fn layout(format: Format) -> Vec<Vec<(usize, usize, Kind)>> {
    use Kind::*;
    let len = format.line_length();
    let line1 = vec![(1, 2, Alpha), (3, 5, Alpha), (6, len, Name)];
    let mut line2 = vec![
        (1, 9, Number),
        (10, 10, Numeric),
        (11, 13, Alpha),
        (14, 20, Numeric),
        (21, 21, Free),
        (22, 28, Numeric),
    ];
    match format {
        Format::Td1 => vec![
            vec![
                (1, 2, Alpha),
                (3, 5, Alpha),
                (6, 14, Number),
                (15, 15, Numeric),
                (16, 30, Free),
            ],
            vec![
                (1, 7, Numeric),
                (8, 8, Free),
                (9, 15, Numeric),
                (16, 18, Alpha),
                (19, 29, Free),
                (30, 30, Numeric),
            ],
            vec![(1, 30, Name)],
        ],
        Format::Td3 => {
            line2.extend([(29, 42, Free), (43, 44, Numeric)]);
            vec![line1, line2]
        }
        Format::Td2 => {
            line2.extend([(29, 35, Free), (36, 36, Numeric)]);
            vec![line1, line2]
        }
        Format::MrvA | Format::MrvB => {
            line2.push((29, len, Free));
            vec![line1, line2]
        }
    }
}

/// A letter read where a digit belongs.
fn to_digit(c: char) -> char {
    match c {
        'O' | 'Q' | 'D' => '0',
        'I' | 'L' => '1',
        'Z' => '2',
        'S' => '5',
        'G' => '6',
        'B' => '8',
        _ => c,
    }
}

/// A digit read where a letter belongs.
fn to_letter(c: char) -> char {
    match c {
        '0' => 'O',
        '1' => 'I',
        '5' => 'S',
        '8' => 'B',
        '2' => 'Z',
        '6' => 'G',
        _ => c,
    }
}

/// The lookalikes a character of a document number may have been misread from.
fn alternatives(c: char) -> &'static [char] {
    match c {
        'O' | 'Q' | 'D' => &['0'],
        'I' | 'L' => &['1'],
        'Z' => &['2'],
        'S' => &['5'],
        'G' => &['6'],
        'B' => &['8'],
        '0' => &['O', 'D', 'Q'],
        '1' => &['I', 'L'],
        '2' => &['Z'],
        '5' => &['S'],
        '6' => &['G'],
        '8' => &['B'],
        _ => &[],
    }
}

/// In a name field, a `K` inside the trailing filler region (after a run of at least three
/// fillers, with nothing but fillers and `K`s up to the end) is a misread `<`. Nowhere else:
/// a `K` after `<<` or `<` may be a one-letter name.
fn name_fillers(name: &mut [char]) {
    let Some(last_letter) = name.iter().rposition(|&c| c != '<' && c != 'K') else {
        // Only fillers and Ks: the name field is empty if it starts with fillers.
        if name.iter().take(3).all(|&c| c == '<') {
            name.iter_mut().for_each(|c| *c = '<');
        }
        return;
    };
    let region = &mut name[last_letter + 1..];
    let leading = region.iter().take_while(|&&c| c == '<').count();
    if leading >= 3 {
        region.iter_mut().for_each(|c| *c = '<');
    }
}

/// Reads an MRZ from lines an OCR engine returned.
///
/// Spaces are removed and letters capitalised; lines shorter than 29 characters are dropped
/// (they are not MRZ lines); the last 3 lines of 29–31 characters (TD1), else the last 2 of
/// 43–45 (TD3, MRV-A) or 35–37 (TD2, MRV-B) are taken. A line one character short or long gets
/// a `<` added to or removed from one of its filler runs (the run that makes the check digits
/// pass, if any). Then lookalike characters are corrected by field type:
///
/// - in digit fields (dates, check digits): `O`, `Q`, `D` → `0`, `I`, `L` → `1`, `Z` → `2`,
///   `S` → `5`, `G` → `6`, `B` → `8`;
/// - in letter fields (document code, issuing state, nationality, names): `0` → `O`,
///   `1` → `I`, `5` → `S`, `8` → `B`, `2` → `Z`, `6` → `G`; and in names a `K` within the
///   trailing filler run (e.g. `<<<K<<<`) → `<`;
/// - in the document number, which holds both, a lookalike swap (at most two positions) is
///   kept only when it is the one swap that makes the number's check digit pass.
///
/// No other change is made, so a wrong digit stays wrong and its check digit fails. Optional
/// data and the sex are left as read. The result may still have failing checks: see
/// [`Mrz::checks_valid`].
pub fn read_ocr(lines: &[&str], today: NaiveDate) -> Result<Mrz, MrzError> {
    let cleaned: Vec<String> = lines
        .iter()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
        })
        .filter(|l| l.chars().count() >= 29)
        .collect();
    if cleaned.is_empty() {
        let lengths: Vec<usize> = lines
            .iter()
            .map(|l| l.chars().filter(|c| !c.is_whitespace()).count())
            .filter(|&n| n > 0)
            .collect();
        if lengths.is_empty() {
            return Err(MrzError::Empty);
        }
        return Err(MrzError::UnknownFormat {
            lines: lengths.len(),
            lengths,
        });
    }
    let (window, target) = find_window(&cleaned).ok_or_else(|| MrzError::UnknownFormat {
        lines: cleaned.len(),
        lengths: cleaned.iter().map(|l| l.chars().count()).collect(),
    })?;
    // Every way of bringing each line to its length; the first one whose checks all pass wins,
    // else the first one.
    let per_line: Vec<Vec<String>> = window.iter().map(|l| resize(l, target)).collect();
    let mut first: Option<Result<Mrz, MrzError>> = None;
    for combination in combinations(&per_line, 64) {
        let result = correct(combination, today);
        if let Ok(mrz) = &result
            && mrz.checks_valid()
        {
            return result;
        }
        first.get_or_insert(result);
    }
    first.unwrap_or(Err(MrzError::Empty))
}

/// The MRZ lines among `lines`: the last 3 of about 30 characters, else the last 2 of about
/// 44 or 36; with the length they should have.
fn find_window(lines: &[String]) -> Option<(Vec<String>, usize)> {
    let near = |l: &String, n: usize| l.chars().count().abs_diff(n) <= 1;
    for (count, target) in [(3, 30), (2, 44), (2, 36)] {
        if lines.len() < count {
            continue;
        }
        for end in (count..=lines.len()).rev() {
            let window = &lines[end - count..end];
            if window.iter().all(|l| near(l, target)) {
                return Some((window.to_vec(), target));
            }
        }
    }
    None
}

/// The line at its target length: as is, or with one `<` added to (removed from) each filler
/// run in turn, longest runs first. A line that cannot be fixed is returned as is.
fn resize(line: &str, target: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let len = chars.len();
    if len == target {
        return vec![line.to_string()];
    }
    // Filler runs of at least two (a single `<` separates name parts).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < len {
        if chars[i] == '<' {
            let start = i;
            while i < len && chars[i] == '<' {
                i += 1;
            }
            if i - start >= 2 {
                runs.push((start, i - start));
            }
        } else {
            i += 1;
        }
    }
    runs.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let variants: Vec<String> = runs
        .iter()
        .filter_map(|&(start, _)| {
            let mut v = chars.clone();
            if len + 1 == target {
                v.insert(start, '<');
            } else if len == target + 1 {
                v.remove(start);
            } else {
                return None;
            }
            Some(v.into_iter().collect())
        })
        .collect();
    if variants.is_empty() {
        vec![line.to_string()]
    } else {
        variants
    }
}

/// Every choice of one variant per line, at most `limit` of them.
fn combinations(per_line: &[Vec<String>], limit: usize) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for variants in per_line {
        let mut next = Vec::new();
        for prefix in &out {
            for v in variants {
                if next.len() >= limit {
                    break;
                }
                let mut p = prefix.clone();
                p.push(v.clone());
                next.push(p);
            }
        }
        out = next;
    }
    out
}

/// Lookalike corrections by field type, then the document number search, then parsing.
fn correct(lines: Vec<String>, today: NaiveDate) -> Result<Mrz, MrzError> {
    let format = detect(&lines)?;
    let mut grid: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
    let mut number_cells: Vec<(usize, usize)> = Vec::new();
    for (li, spans) in layout(format).into_iter().enumerate() {
        let row = &mut grid[li];
        for (from, to, kind) in spans {
            let cells = &mut row[from - 1..to];
            match kind {
                Kind::Alpha => cells.iter_mut().for_each(|c| *c = to_letter(*c)),
                Kind::Name => {
                    cells.iter_mut().for_each(|c| *c = to_letter(*c));
                    name_fillers(cells);
                }
                Kind::Numeric => cells.iter_mut().for_each(|c| *c = to_digit(*c)),
                Kind::Number => number_cells.extend((from - 1..to).map(|col| (li, col))),
                Kind::Free => {}
            }
        }
    }
    // The long-number rule (TD1, TD2): the number continues in the optional data, its check
    // digit after it.
    let long = match format {
        Format::Td1 => Some((0, 14, 15, 30)),
        Format::Td2 => Some((1, 9, 28, 35)),
        _ => None,
    };
    if let Some((li, cd_col, from, to)) = long
        && grid[li][cd_col] == '<'
    {
        let optional = &mut grid[li][from..to];
        if let Some(last) = optional.iter().rposition(|&c| c != '<')
            && last >= 1
        {
            optional[last] = to_digit(optional[last]);
            number_cells.extend((from..from + last).map(|col| (li, col)));
        }
    }
    let to_lines =
        |grid: &[Vec<char>]| -> Vec<String> { grid.iter().map(|r| r.iter().collect()).collect() };
    let mrz = parse_lines(to_lines(&grid), today)?;
    let number_ok = mrz
        .checks
        .iter()
        .find(|c| c.field == CheckField::DocumentNumber)
        .is_none_or(|c| c.valid || !c.expected.is_ascii_digit());
    if number_ok {
        return Ok(mrz);
    }
    match search_number(&grid, &number_cells, today) {
        Some(fixed) => parse_lines(to_lines(&fixed), today),
        None => Ok(mrz),
    }
}

/// The one lookalike variant of the document number (one swap, else two) whose check digit
/// passes; `None` when there is none or more than one.
fn search_number(
    grid: &[Vec<char>],
    cells: &[(usize, usize)],
    today: NaiveDate,
) -> Option<Vec<Vec<char>>> {
    let swaps: Vec<((usize, usize), char)> = cells
        .iter()
        .flat_map(|&(l, c)| alternatives(grid[l][c]).iter().map(move |&a| ((l, c), a)))
        .collect();
    let passes = |variant: &[Vec<char>]| -> bool {
        let lines: Vec<String> = variant.iter().map(|r| r.iter().collect()).collect();
        parse_lines(lines, today).is_ok_and(|m| {
            m.checks
                .iter()
                .any(|c| c.field == CheckField::DocumentNumber && c.valid)
        })
    };
    let apply = |chosen: &[((usize, usize), char)]| {
        let mut v = grid.to_vec();
        for &((l, c), a) in chosen {
            v[l][c] = a;
        }
        v
    };
    // One swap.
    let mut found: Vec<Vec<Vec<char>>> = swaps
        .iter()
        .map(|s| apply(std::slice::from_ref(s)))
        .filter(|v| passes(v))
        .collect();
    if found.is_empty() && swaps.len() <= 24 {
        // Two swaps at different positions.
        for (i, a) in swaps.iter().enumerate() {
            for b in &swaps[i + 1..] {
                if a.0 != b.0 {
                    let v = apply(&[*a, *b]);
                    if passes(&v) {
                        found.push(v);
                    }
                }
            }
        }
    }
    if found.len() == 1 { found.pop() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_fillers_only_in_trailing_runs() {
        let fix = |s: &str| {
            let mut v: Vec<char> = s.chars().collect();
            name_fillers(&mut v);
            v.into_iter().collect::<String>()
        };
        assert_eq!(fix("ERIKSSON<<ANNA<<<K<<<"), "ERIKSSON<<ANNA<<<<<<<");
        assert_eq!(fix("SMITH<<K<<<<<<"), "SMITH<<K<<<<<<");
        assert_eq!(fix("SMITH<<JOHN<K<<<<"), "SMITH<<JOHN<K<<<<");
        assert_eq!(fix("KOK<<ANNA<<<<"), "KOK<<ANNA<<<<");
    }

    #[test]
    fn resize_adds_or_removes_at_filler_runs() {
        assert_eq!(resize("AB<<CD", 7), vec!["AB<<<CD".to_string()]);
        assert_eq!(resize("AB<<<CD", 6), vec!["AB<<CD".to_string()]);
        assert_eq!(resize("AB<CD", 6), vec!["AB<CD".to_string()]);
    }
}
