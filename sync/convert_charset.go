package sync

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// mysqlCharsets maps MySQL character sets to their encodings. MySQL's
// latin1 is Windows-1252. UTF-8 sets are absent: they need no decoding.
var mysqlCharsets = map[string]encoding.Encoding{
	"latin1":   charmap.Windows1252,
	"latin2":   charmap.ISO8859_2,
	"latin5":   charmap.ISO8859_9,
	"latin7":   charmap.ISO8859_13,
	"cp1250":   charmap.Windows1250,
	"cp1251":   charmap.Windows1251,
	"cp1256":   charmap.Windows1256,
	"cp1257":   charmap.Windows1257,
	"cp850":    charmap.CodePage850,
	"cp852":    charmap.CodePage852,
	"cp866":    charmap.CodePage866,
	"koi8r":    charmap.KOI8R,
	"koi8u":    charmap.KOI8U,
	"greek":    charmap.ISO8859_7,
	"hebrew":   charmap.ISO8859_8,
	"macroman": charmap.Macintosh,
	"sjis":     japanese.ShiftJIS,
	"cp932":    japanese.ShiftJIS,
	"ujis":     japanese.EUCJP,
	"eucjpms":  japanese.EUCJP,
	"euckr":    korean.EUCKR,
	"gbk":      simplifiedchinese.GBK,
	"gb2312":   simplifiedchinese.HZGB2312,
	"gb18030":  simplifiedchinese.GB18030,
	"big5":     traditionalchinese.Big5,
	"ucs2":     unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16":    unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16le":  unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	"utf32":    utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
}

// charsetDecoder returns the decoder from a MySQL character set to UTF-8;
// nil for sets that are UTF-8 already (utf8, utf8mb3, utf8mb4, ascii, "").
func charsetDecoder(cs string) (decoder, error) {
	switch cs {
	case "", "utf8", "utf8mb3", "utf8mb4", "ascii", "binary":
		return nil, nil
	}
	if cs == "gb2312" {
		// EUC-CN is a subset of GBK.
		cs = "gbk"
	}
	enc, ok := mysqlCharsets[cs]
	if !ok {
		return nil, fmt.Errorf("character set %s is not supported; convert the column to utf8mb4 or exclude it", cs)
	}
	return func(b []byte) ([]byte, error) {
		if isASCII(b) {
			return b, nil
		}
		out, err := enc.NewDecoder().Bytes(b)
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", cs, err)
		}
		if !utf8.Valid(out) {
			return nil, fmt.Errorf("decoding %s: invalid result", cs)
		}
		return out, nil
	}, nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
