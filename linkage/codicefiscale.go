package linkage

import (
	"fmt"
	"strings"
	"time"
)

// The codice fiscale of a person (DM 23/12/1976) has 16 characters:
//
//	positions  1–3  surname letters        RSS
//	           4–6  given-name letters     MRA
//	           7–8  year of birth, 2 digits 80
//	           9    month letter           A
//	          10–11 day of birth, +40 for females  01
//	          12–15 Belfiore code of the birth place  H501
//	          16    check character        U
//
// When two persons would get the same code (omocodia), the Agenzia delle
// Entrate replaces digits with letters, starting from the rightmost digit
// position: 0–9 become L M N P Q R S T U V, and the check character is
// computed again over the new code.

// monthLetters are the month letters of a codice fiscale, January first.
const monthLetters = "ABCDEHLMPRST"

// omocodiaLetters stand for the digits 0–9 in the digit positions.
const omocodiaLetters = "LMNPQRSTUV"

// omocodiaPositions are the 0-based digit positions of a codice fiscale,
// rightmost first: the order in which omocodia replaces them.
var omocodiaPositions = [7]int{14, 13, 12, 10, 9, 7, 6}

// cfOddValues are the values of A–Z (and of 0–9, which count as A–J) in the
// odd positions (1st, 3rd, …, 15th) of the check character computation.
var cfOddValues = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// cfCheckChar returns the check character of the first 15 characters of a
// codice fiscale (upper case letters and digits). In the even positions a
// letter counts its place in the alphabet from 0 and a digit its value.
func cfCheckChar(code15 string) byte {
	sum := 0
	for i := 0; i < 15; i++ {
		c := code15[i]
		var v int // 0–25: A–Z, or 0–9 for digits
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		} else {
			v = int(c - 'A')
		}
		if i%2 == 0 { // 1-based odd position
			sum += cfOddValues[v]
		} else {
			sum += v
		}
	}
	return byte('A' + sum%26)
}

// provisionalCheckDigit returns the check digit of the first 10 digits of a
// provisional numeric code (the partita IVA algorithm): digits in odd
// positions are summed, digits in even positions are doubled (minus 9 when
// above 9) and summed, and the check digit is (10 − sum mod 10) mod 10.
func provisionalCheckDigit(digits10 string) byte {
	sum := 0
	for i := 0; i < 10; i++ {
		d := int(digits10[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// cfDigit returns the digit a digit position of a codice fiscale holds,
// reading an omocodia letter as its digit; ok is false for anything else.
func cfDigit(c byte) (d int, ok bool) {
	if c >= '0' && c <= '9' {
		return int(c - '0'), true
	}
	if i := strings.IndexByte(omocodiaLetters, c); i >= 0 {
		return i, true
	}
	return 0, false
}

// parsedCF is a valid codice fiscale, decoded.
type parsedCF struct {
	canonical string     // omocodia letters mapped back to digits, check character recomputed
	year      int        // two digits
	month     time.Month // from the month letter
	day       int        // 1–31
	sex       string     // "M", or "F" when the code's day is 41–71
	place     string     // Belfiore code, canonical
}

// parseCF decodes a 16-character upper case codice fiscale, or returns the
// reason it is not valid. Omocodia letters are accepted in any digit
// position; the check character is verified over the code as written.
func parseCF(code string) (parsedCF, string) {
	const badPattern = "does not have the pattern of a codice fiscale"
	if len(code) != 16 {
		return parsedCF{}, "must be 16 characters or the 11-digit provisional code"
	}
	canon := []byte(code)
	for i := 0; i < 16; i++ {
		c := code[i]
		switch i {
		case 6, 7, 9, 10, 12, 13, 14:
			d, ok := cfDigit(c)
			if !ok {
				return parsedCF{}, badPattern
			}
			canon[i] = byte('0' + d)
		default:
			if c < 'A' || c > 'Z' {
				return parsedCF{}, badPattern
			}
		}
	}
	month := strings.IndexByte(monthLetters, code[8])
	if month < 0 {
		return parsedCF{}, "has an invalid month letter"
	}
	if cfCheckChar(code) != code[15] {
		return parsedCF{}, "check character does not match"
	}
	day := int(canon[9]-'0')*10 + int(canon[10]-'0')
	sex := "M"
	if day > 40 {
		sex, day = "F", day-40
	}
	if day < 1 || day > 31 {
		return parsedCF{}, "has an invalid birth day"
	}
	canon[15] = cfCheckChar(string(canon))
	return parsedCF{
		canonical: string(canon),
		year:      int(canon[6]-'0')*10 + int(canon[7]-'0'),
		month:     time.Month(month + 1),
		day:       day,
		sex:       sex,
		place:     string(canon[11:15]),
	}, ""
}

// ComputeCF returns the codice fiscale of a person by the official
// algorithm, without omocodia. Names are normalised as Normalize does and
// only their letters count. Surname: its consonants, then its vowels, then
// X, the first three. Given names: the 1st, 3rd and 4th consonant when there
// are four or more, otherwise as for the surname. Then the year's last two
// digits, the month letter, the day (plus 40 when sex is "F"), birthPlace
// (a Belfiore code) and the check character.
func ComputeCF(surname, givenNames string, birth time.Time, sex, birthPlace string) string {
	day := birth.Day()
	if strings.EqualFold(strings.TrimSpace(sex), "F") {
		day += 40
	}
	code := fmt.Sprintf("%s%s%02d%c%02d%s",
		cfNameLetters(surname, false), cfNameLetters(givenNames, true),
		birth.Year()%100, monthLetters[birth.Month()-1], day,
		strings.ToUpper(strings.TrimSpace(birthPlace)))
	if len(code) != 15 {
		// A birth place that is not a Belfiore code: return what there is
		// rather than a code with a check character that means nothing.
		return code
	}
	return code + string(cfCheckChar(code))
}

// cfNameLetters returns the three letters of a codice fiscale for a surname
// or (given true) for the given names.
func cfNameLetters(name string, given bool) string {
	var cons, vows []byte
	for _, r := range foldName(name) {
		switch {
		case strings.ContainsRune("AEIOU", r):
			vows = append(vows, byte(r))
		case r >= 'A' && r <= 'Z':
			cons = append(cons, byte(r))
		}
	}
	if given && len(cons) >= 4 {
		return string([]byte{cons[0], cons[2], cons[3]})
	}
	out := append(append(cons, vows...), 'X', 'X', 'X')
	return string(out[:3])
}

// Omocodia returns cf with its level rightmost digit positions (1–7)
// replaced by omocodia letters and the check character recomputed: the form
// the Agenzia delle Entrate gives the level-th person who would otherwise
// share cf. level is clamped to 0–7. cf must be a canonical codice fiscale;
// anything else is returned unchanged.
func Omocodia(cf string, level int) string {
	if len(cf) != 16 {
		return cf
	}
	level = max(0, min(level, len(omocodiaPositions)))
	b := []byte(strings.ToUpper(cf))
	for _, pos := range omocodiaPositions[:level] {
		if d, ok := cfDigit(b[pos]); ok {
			b[pos] = omocodiaLetters[d]
		}
	}
	b[15] = cfCheckChar(string(b))
	return string(b)
}
