//! Writes cells a spreadsheet keeps as text: what goes into a CSV a person opens in Excel
//! (`bulk`'s `report.csv`, the readiness scan's `readiness.csv` and `cleanup.csv`) is written so
//! that no cell is read as a formula. Pure.

/// Makes a cell Excel keeps as text: one whose first character other than a space would start
/// a formula (`=`, `+`, `-`, `@`, a tab or a carriage return, or their full-width and small
/// forms, which some spreadsheets also read as operators) gets a leading apostrophe, as OWASP's
/// CSV-injection guidance advises; and a line break or other control character inside a cell
/// becomes a space, so that no line of the cell starts one either.
pub fn as_text(cell: &str) -> String {
    let starts_formula = |c: char| {
        matches!(
            c,
            '=' | '+'
                | '-'
                | '@'
                | '\t'
                | '\r'
                | '\n'
                | '\u{FF1D}'
                | '\u{FF0B}'
                | '\u{FF0D}'
                | '\u{FF20}'
                | '\u{FE66}'
                | '\u{FE62}'
                | '\u{FE63}'
                | '\u{FE6B}'
                | '\u{2212}'
        )
    };
    let first = cell.chars().find(|c| *c != ' ' && *c != '\u{3000}');
    let flat: String = cell
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if first.is_some_and(starts_formula) {
        format!("'{flat}")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_start_a_formula_stay_text() {
        assert_eq!(as_text("+49 ********67"), "'+49 ********67");
        assert_eq!(as_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(as_text("adele@contoso.com"), "adele@contoso.com");
        for cell in [
            " =1+1",
            "\t=1+1",
            "\u{FF1D}1+1",
            "\u{FF0B}49 170",
            "\u{FF0D}1",
            "\u{FF20}SUM(A1)",
            "\r=1",
            "-2+3",
        ] {
            let text = as_text(cell);
            assert!(text.starts_with('\''), "{cell:?} became {text:?}");
            assert!(!text.contains(['\r', '\n', '\t']), "{text:?}");
        }
        assert_eq!(
            as_text("held back\n=HYPERLINK(\"x\")"),
            "held back =HYPERLINK(\"x\")",
            "no line inside a cell starts a formula"
        );
    }
}
