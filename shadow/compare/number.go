package compare

import (
	"bytes"
	"math/big"
	"strconv"
)

// decimal is the exact value of a JSON number: (-1)^neg × 0.digits ×
// 10^exp, digits without leading or trailing zeros. Zero has no digits and
// is never negative, so -0 = 0. The exponent is exp, or bigExp (its
// decimal text) when it does not fit an int64: each value has exactly one
// form, and two numbers are equal when their forms are.
type decimal struct {
	neg    bool
	digits []byte
	exp    int64
	bigExp string
}

// parseDecimal reads the validated JSON number s; the digits are appended
// to buf, which is returned grown.
func parseDecimal(s []byte, buf []byte) (decimal, []byte) {
	var d decimal
	i := 0
	if s[0] == '-' {
		d.neg = true
		i++
	}
	start := len(buf)
	for i < len(s) && isDigit(s[i]) {
		buf = append(buf, s[i])
		i++
	}
	point := len(buf) - start // digits before the point
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			buf = append(buf, s[i])
			i++
		}
	}
	digits := buf[start:]
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	if len(digits) == 0 {
		return decimal{}, buf
	}
	digits = bytes.TrimRight(digits, "0")
	d.digits = digits
	shift := int64(point - lead)
	var expNeg bool
	var expDigits []byte
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if s[i] == '+' || s[i] == '-' {
			expNeg = s[i] == '-'
			i++
		}
		expDigits = bytes.TrimLeft(s[i:], "0")
	}
	if len(expDigits) <= 15 {
		var e int64
		for _, c := range expDigits {
			e = e*10 + int64(c-'0')
		}
		if expNeg {
			e = -e
		}
		d.exp = e + shift
		return d, buf
	}
	e, _ := new(big.Int).SetString(string(expDigits), 10)
	if expNeg {
		e.Neg(e)
	}
	e.Add(e, big.NewInt(shift))
	if e.IsInt64() {
		d.exp = e.Int64()
	} else {
		d.bigExp = e.String()
	}
	return d, buf
}

func (d *decimal) equal(o *decimal) bool {
	return d.neg == o.neg && d.exp == o.exp && d.bigExp == o.bigExp && bytes.Equal(d.digits, o.digits)
}

func (d *decimal) hash() uint64 {
	h := hashBytes(d.digits) ^ 0x6e756d
	if d.neg {
		h = mix(h, 1)
	}
	if d.bigExp != "" {
		return mix(h, hashString(d.bigExp))
	}
	return mix(h, uint64(d.exp))
}

// appendCanonical appends the one text this value is written as in a path:
// an integer or a decimal in plain form when its point is at most 21
// digits from its first digit, else in scientific notation (1.5e400).
func (d *decimal) appendCanonical(dst []byte) []byte {
	if len(d.digits) == 0 {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	if d.bigExp == "" && d.exp > -6 && d.exp <= 21 {
		e := int(d.exp)
		switch {
		case e <= 0:
			dst = append(dst, "0."...)
			for range -e {
				dst = append(dst, '0')
			}
			return append(dst, d.digits...)
		case e >= len(d.digits):
			dst = append(dst, d.digits...)
			for range e - len(d.digits) {
				dst = append(dst, '0')
			}
			return dst
		default:
			dst = append(dst, d.digits[:e]...)
			dst = append(dst, '.')
			return append(dst, d.digits[e:]...)
		}
	}
	dst = append(dst, d.digits[0])
	if len(d.digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, d.digits[1:]...)
	}
	dst = append(dst, 'e')
	if d.bigExp == "" {
		return strconv.AppendInt(dst, d.exp-1, 10)
	}
	e, _ := new(big.Int).SetString(d.bigExp, 10)
	return e.Sub(e, big.NewInt(1)).Append(dst, 10)
}
