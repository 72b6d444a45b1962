// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Staged disclosure (SECURITY.md §2.13): nothing about procedures, meeting
// points or staff reaches a contact before his case is verified: a
// provocateur learns nothing by registering. Disclosures is the check
// every stage-1 text goes through: the questionnaire's messages (refused:
// nobody approves a definition's text), the operators' replies before a
// verdict (held for a supervisor).

// A Disclosure is a kind of detail that must not reach an unverified
// contact. It is a category code: safe to log, to audit and to show, and
// it never carries the words that matched.
type Disclosure string

// The disclosures, in the order Disclosures reports them.
const (
	DiscloseTime        Disclosure = "time"        // 6 утра, 06:00, о шостій, at 6 am, в полночь
	DiscloseDate        Disclosure = "date"        // завтра, 12.03, 12 марта, Monday, через два дня
	DisclosePlace       Disclosure = "place"       // у моста, в Бахмуте, точка 3, meeting point
	DiscloseCoordinates Disclosure = "coordinates" // 48.0159, 37.8029; DMS; grid references; map links
	DiscloseRoute       Disclosure = "route"       // маршрут, по трассе, дорога на, via
	DiscloseCallSign    Disclosure = "callsign"    // позывной Сокол, пароль «Калина»
	DiscloseUnit        Disclosure = "unit"        // 3-я рота, в/ч 12345, 36th brigade
	DisclosePerson      Disclosure = "person"      // командир Иванов, меня зовут Сергей
)

// AllDisclosures returns every disclosure, in report order.
func AllDisclosures() []Disclosure {
	return []Disclosure{DiscloseTime, DiscloseDate, DisclosePlace, DiscloseCoordinates, DiscloseRoute, DiscloseCallSign, DiscloseUnit, DisclosePerson}
}

// ParseDisclosures reads a comma-separated list of disclosure codes, as
// JoinDisclosures writes it; unknown codes are dropped.
func ParseDisclosures(s string) []Disclosure {
	var out []Disclosure
	for _, p := range strings.Split(s, ",") {
		if d := Disclosure(strings.TrimSpace(p)); slices.Contains(AllDisclosures(), d) && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// JoinDisclosures writes ds as a comma-separated list of codes.
func JoinDisclosures(ds []Disclosure) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return strings.Join(s, ",")
}

// Disclosures returns what in text would tell an unverified contact a
// time, a date, a place, coordinates, a route, a call sign, a unit or a
// person, in Russian, Ukrainian or English; nil if nothing does. Asking
// him ("what is your unit?", "какой у вас позывной?") discloses nothing;
// telling him ("позывной Сокол", "3-я рота") does.
//
// It is a screen, not a proof: it errs towards holding a reply for a
// supervisor, who sees the categories it found.
func Disclosures(text string) []Disclosure {
	found := map[Disclosure]bool{}
	lower := strings.ToLower(text)
	scanPatterns(text, lower, found)
	ts := tokenize(text)
	tail := text // after the last word: "?" there asks
	if i := strings.LastIndexFunc(text, isWordRune); i >= 0 {
		_, n := utf8.DecodeRuneInString(text[i:])
		tail = text[i+n:]
	}
	scanTokens(ts, tail, found)
	scanInstructions(ts, found)
	var out []Disclosure
	for _, d := range AllDisclosures() {
		if found[d] {
			out = append(out, d)
		}
	}
	return out
}

// Patterns matched against the whole text, compiled once.
var (
	// A latitude and longitude as decimals ("48.0159, 37.8029").
	coordPair = regexp.MustCompile(`[-+]?\d{1,2}[.,]\d{3,}\s*[,;/ ]\s*[-+]?\d{1,3}[.,]\d{3,}`)
	// Degrees, minutes, seconds (48°01'12"N), or degrees with a hemisphere.
	coordDMS = regexp.MustCompile(`\d{1,3}\s*°\s*\d{1,2}\s*['′’]|\d{1,3}[.,]\d+\s*°\s*[NSEWСЮВЗсювз]|[NS]\s?\d{1,2}[.,]\d{3,}`)
	// MGRS-like grid references: zone, square, easting and northing
	// ("37U DQ 12345 67890", "37UDQ1234567890").
	coordGrid = regexp.MustCompile(`\b\d{1,2}[C-HJ-NP-X]\s?[A-HJ-NP-Z]{2}\s?\d{2,5}\s?\d{2,5}\b`)
	// Open Location Codes (plus codes).
	coordPlus = regexp.MustCompile(`\b[23456789CFGHJMPQRVWX]{4,8}\+[23456789CFGHJMPQRVWX]{2,3}\b`)
	// Map links and geo URIs.
	mapLink = regexp.MustCompile(`(?i)geo:\s*[-+]?\d|maps\.google\.|google\.[a-z.]+/maps|goo\.gl/maps|maps\.app\.goo\.gl|openstreetmap\.org|\bosm\.org|\b2gis\.|yandex\.[a-z.]+/maps|maps\.yandex\.|t\.me/location|maps\.apple\.com|waze\.com|what3words|///[a-z]+\.[a-z]+\.[a-z]+`)
	// Unit numbers: в/ч 12345, в.ч. А1234, military unit 12345.
	unitNumber = regexp.MustCompile(`(?i)(?:^|[^\p{L}])(?:в\s?/\s?ч|в\.\s?ч\.|вч|військов\p{L}* частин\p{L}*|войсков\p{L}* част\p{L}*|воинск\p{L}* част\p{L}*|military unit|unit)\s*(?:№\s*|no\.?\s*)?[\p{L}]?\d{3,5}`)
	// 0600h, 1830 hrs.
	militaryTime = regexp.MustCompile(`(?i)\b(?:[01]\d|2[0-3])[0-5]\d\s?(?:h|hrs|hours)\b`)
)

// meetingPhrases name a meeting place or its procedure.
var meetingPhrases = []string{
	"место встречи", "месте встречи", "места встречи", "точка встречи", "точку встречи", "точке встречи",
	"место сбора", "точка сбора", "точку сбора", "пункт сбора", "место сдачи", "координаты встречи",
	"місце зустрічі", "місця зустрічі", "точка зустрічі", "точку зустрічі", "точка збору", "точку збору", "пункт збору", "місце збору",
	"meeting point", "rendezvous", "meeting place", "pickup point", "pick-up point", "assembly point", "the pickup is", "the pick-up is",
	"как стемнеет", "коли стемніє", "after dark", "until dark", "до темноты", "до темряви",
}

func scanPatterns(text, lower string, found map[Disclosure]bool) {
	if coordPair.MatchString(text) || coordDMS.MatchString(text) || coordGrid.MatchString(text) || coordPlus.MatchString(text) || mapLink.MatchString(text) {
		found[DiscloseCoordinates] = true
	}
	if unitNumber.MatchString(lower) {
		found[DiscloseUnit] = true
	}
	if militaryTime.MatchString(text) {
		found[DiscloseTime] = true
	}
	for _, p := range meetingPhrases {
		if strings.Contains(lower, p) {
			found[DisclosePlace] = true
			if strings.Contains(p, "dark") || strings.Contains(p, "темн") || strings.Contains(p, "темр") {
				found[DiscloseTime] = true
			}
		}
	}
}

// A token is one word or number of the text.
type token struct {
	s      string // as written
	l      string // lower case
	sep    string // the characters between the previous token and this one
	num    int    // the value of a number token (digits only), else -1
	digits int    // how many leading digits it has
	cap    bool   // starts with a capital and is not all capitals
	upper  bool   // all capitals, two letters or more (an abbreviation)
	quoted bool   // follows an opening quotation mark
}

// tokenize splits text into words and numbers. A word keeps inner
// apostrophes and hyphens (п'ятниця, 3-я, Иванов-Петров).
func tokenize(text string) []token {
	var out []token
	var sep strings.Builder
	i := 0
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			sep.WriteString(text[i : i+n])
			i += n
			continue
		}
		j := i
		for j < len(text) {
			r, n := utf8.DecodeRuneInString(text[j:])
			if isWordRune(r) {
				j += n
				continue
			}
			// An apostrophe or hyphen between two word characters.
			if r == '\'' || r == '’' || r == 'ʼ' || r == '-' {
				if r2, _ := utf8.DecodeRuneInString(text[j+n:]); j+n < len(text) && isWordRune(r2) && j > i {
					j += n
					continue
				}
			}
			break
		}
		out = append(out, newToken(text[i:j], sep.String()))
		sep.Reset()
		i = j
	}
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func newToken(s, sep string) token {
	t := token{s: s, l: strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(s, "’", "'"), "ʼ", "'")), sep: sep, num: -1}
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		t.digits++
	}
	if t.digits == len(s) && t.digits <= 6 {
		t.num, _ = strconv.Atoi(s)
	}
	first, _ := utf8.DecodeRuneInString(s)
	if unicode.IsUpper(first) {
		lowerRest := strings.IndexFunc(s[utf8.RuneLen(first):], unicode.IsLower) >= 0
		t.cap = lowerRest
		t.upper = !lowerRest && utf8.RuneCountInString(s) >= 2
	}
	t.quoted = strings.ContainsAny(sep, "«\"„“'")
	return t
}

// sentenceEnd reports whether a separator ends a sentence or a clause
// that a later word cannot belong to.
func sentenceEnd(sep string) bool { return strings.ContainsAny(sep, ".!?;\n") }

// words are sets of lower-case words; stems match a word's beginning.
type words map[string]bool

func set(ws ...string) words {
	m := words{}
	for _, w := range ws {
		m[w] = true
	}
	return m
}

func hasStem(w string, stems []string) bool {
	for _, s := range stems {
		if strings.HasPrefix(w, s) {
			return true
		}
	}
	return false
}

var (
	timeWords = set("утра", "утром", "вечера", "ночи", "дня", "часов", "часа", "час", "ч", "ранку", "вечора", "ночі", "години", "годині", "годин",
		"am", "pm", "o'clock", "oclock", "h", "hrs", "hours", "hour")
	// "через два дня" is a date, "в течение 2 часов" a promise of ours.
	withinWords = set("через", "in", "течение", "протягом", "within", "for")
	timePreps   = set("в", "во", "к", "ко", "о", "об", "около", "до", "после", "с", "з", "із", "від", "після", "на", "at", "by", "around", "until", "till", "before", "after", "from")
	// After "в 6" a word that makes it a time ("в 6 у моста", "в 6, ...").
	timeFollowers = set("и", "у", "возле", "около", "на", "к", "і", "й", "та", "біля", "and", "near", "at", "by", "sharp", "ровно", "рівно", "точно")
	numberWords   = set("один", "одного", "два", "двух", "две", "три", "трёх", "трех", "четыре", "четырёх", "четырех", "пять", "пяти", "шесть", "шести", "семь", "семи", "восемь", "восьми", "девять", "девяти", "десять", "десяти", "одиннадцать", "одиннадцати", "двенадцать", "двенадцати",
		"одна", "дві", "двох", "трьох", "чотири", "чотирьох", "п'ять", "п'яти", "шість", "шести", "сім", "семи", "вісім", "восьми", "дев'ять", "дев'яти", "десять", "десяти", "одинадцять", "дванадцять",
		"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "пару")
	ukOrdinalHours = set("першій", "другій", "третій", "четвертій", "п'ятій", "шостій", "сьомій", "восьмій", "дев'ятій", "десятій", "одинадцятій", "дванадцятій")
	instants       = set("полночь", "полдень", "полуночи", "полудня", "опівночі", "опівдні", "північ", "midnight", "noon", "рассвет", "рассвете", "рассвета", "світанку", "світанок", "dawn", "dusk", "sunrise", "sunset", "закате", "заходом", "сумерках", "сутінках")
	dayWords       = set("завтра", "послезавтра", "післязавтра", "tomorrow", "tonight", "weekend", "выходных", "вихідних")
	partOfDay      = set("вечером", "ночью", "утром", "днём", "днем", "ввечері", "вночі", "вранці", "зранку", "увечері", "evening", "morning", "afternoon", "night")
	todayWords     = set("сегодня", "сьогодні", "this")
	weekdays       = []string{"понедельник", "вторник", "среду", "среда", "четверг", "пятниц", "суббот", "воскресень",
		"понеділ", "вівтор", "середу", "середа", "четвер", "п'ятниц", "субот", "неділ",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
	months = []string{"январ", "феврал", "март", "апрел", "мая", "май", "июн", "июл", "август", "сентябр", "октябр", "ноябр", "декабр",
		"січ", "лют", "берез", "квіт", "травн", "черв", "лип", "серп", "верес", "жовт", "листопад", "груд",
		"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	dayUnits  = []string{"дня", "дней", "день", "суток", "сутки", "днів", "дні", "days", "day", "недел", "тижн", "тиждень", "week"}
	hourUnits = []string{"час", "годин", "hour"}

	placeNumberWords = set("точка", "точку", "точке", "точки", "квадрат", "квадрата", "квадрату", "квадраті", "пост", "поста", "посту", "пості", "км", "километр", "километре", "кілометр", "кілометрі",
		"высота", "высоты", "высоту", "висота", "висоти", "висоту", "отметка", "отметки", "отметку", "кпп", "блокпост", "блокпоста", "сектор", "сектора", "позиция", "позицию", "позиція", "позицію",
		"point", "checkpoint", "grid", "square", "height", "hill", "km", "mile", "marker", "gate", "exit", "дом", "дома", "будинок", "будинку", "house", "building", "выезд", "съезд", "виїзд", "з'їзд")
	distanceUnits = set("км", "km", "километров", "километра", "кілометрів", "кілометри", "метров", "метрів", "miles", "mile", "meters", "metres", "kilometres", "kilometers")
	streetWords   = set("улица", "улице", "улицу", "ул", "вулиця", "вулиці", "вулицю", "вул", "проспект", "переулок", "провулок", "street", "st", "avenue", "ave", "road", "шоссе", "шосе")
	placePreps    = set("у", "возле", "около", "рядом", "близ", "вблизи", "напротив", "за", "под", "перед", "над", "к", "ко", "в", "во", "на", "до", "біля", "коло", "поруч", "поблизу", "навпроти", "під", "через",
		"near", "at", "by", "behind", "beside", "outside", "opposite", "to", "in", "towards", "toward", "past", "into")
	// Landmarks, by stem: a place preposition before one names a place.
	landmarks = []string{"мост", "моста", "мосту", "школ", "церк", "церкв", "храм", "заправк", "азс", "остановк", "перекр", "развилк", "магазин", "рынк", "рынок", "вокзал", "станци", "больниц", "элеватор", "завод", "ферм",
		"кладбищ", "памятник", "блокпост", "кпп", "посадк", "лесополос", "опушк", "речк", "реки", "реке", "озер", "пруд", "дамб", "плотин", "трасс", "поворот", "водонапорн", "вышк", "башн", "сельсовет", "окраин", "развязк", "переезд", "терриконов", "террикон",
		"міст", "мосту", "зупинк", "перехрест", "ринк", "ринок", "станці", "лікарн", "елеватор", "кладовищ", "пам'ятник", "лісосмуг", "річк", "трас", "вежі", "вежа", "околиц", "розвилк", "переїзд",
		"bridge", "school", "church", "gas", "petrol", "bus", "crossroad", "intersection", "junction", "market", "station", "hospital", "elevator", "factory", "farm", "cemetery", "monument", "checkpoint",
		"treeline", "tree", "forest", "river", "lake", "pond", "dam", "highway", "tower", "outskirts", "railway",
		// Terrain and field landmarks a route follows.
		"балк", "овраг", "оврага", "ярок", "ярка", "ярку", "ярком", "яруг", "ручь", "ручей", "ручеё", "русл", "насып", "лэп", "электропередач", "канав", "окоп", "траншей", "траншею",
		"подсолнух", "карьер", "шахт", "подвал", "водокачк", "трансформатор", "будк", "подстанц", "силос", "железнодорож", "железк", "рельс", "болот", "камыш", "кустарник", "низин", "холм", "курган",
		"развалин", "руин", "блиндаж", "опорник", "грунтовк", "проселк", "просёлк", "бетонк", "пруда", "пруду",
		"струмок", "струмк", "лєп", "електропередач", "траншеї", "соняшник", "кар'єр", "підвал", "ставк", "ставок", "підстанці", "залізнич", "очерет", "кущ", "пагорб", "руїн", "бліндаж", "цвинтар", "ґрунтовк", "водокачк",
		"ravine", "gully", "ditch", "stream", "creek", "brook", "orchard", "embankment", "pylon", "powerline", "quarry", "silo", "transformer", "substation", "trench", "basement", "cellar", "ruins", "ruined", "swamp", "marsh", "woods", "hedgerow", "roadblock", "dugout", "bunker", "culvert", "underpass", "sunflower", "crossing", "field"}
	// Field and wood, whose stems are too short to match by: exact forms.
	terrainForms = set("поле", "поля", "полю", "полем", "полях", "лес", "леса", "лесу", "лесом", "ліс", "лісу", "лісом", "лісі", "сад", "саду", "садом", "яр", "яром", "яру", "балкою", "балкой")
	// Words that follow a place preposition without naming the place:
	// asking where he is names nothing.
	askingWords = set("каком", "какой", "какую", "какого", "каких", "котором", "которой", "якому", "якій", "яку", "якого", "яких", "which", "what", "your", "ваш", "вашем", "вашей", "вашу", "вашего", "твоем", "твоём", "вашому", "вашій", "твоєму")
	// Capitalised words that name no place or person.
	notNames = set("вы", "вас", "вам", "вами", "ваш", "ваша", "ваше", "ваши", "вашего", "вашей", "вашем", "вашим", "ваших", "вашу", "ви", "тебе", "тебя", "ты", "твой", "ти", "твій", "вашої", "вашому", "вашій", "вашим",
		"you", "your", "i", "we", "our", "he", "she", "they",
		"telegram", "телеграм", "телеграме", "телеграмм", "телеграмі", "whatsapp", "ватсап", "вотсап", "signal", "сигнал", "viber", "вайбер", "вайбере",
		"украина", "украине", "украину", "украины", "україна", "україні", "україну", "україни", "ukraine", "россия", "россии", "росія", "росії", "russia",
		"russian", "ukrainian", "english", "хочу", "бог", "god", "женевской", "женевська", "geneva", "красный", "червоний", "red", "оон", "un", "мккк", "icrc")
	routeWords = []string{"маршрут", "route", "налево", "направо", "ліворуч", "праворуч", "вдоль", "вздовж", "уздовж", "along"}
	routePairs = [][2]string{{"по", "трасс"}, {"по", "трас"}, {"по", "дорог"}, {"по", "дороз"}, {"дорога", "на"}, {"дорогу", "на"}, {"дорога", "до"}, {"дорогу", "до"}, {"road", "to"}, {"turn", "left"}, {"turn", "right"}, {"follow", "the"}, {"в", "сторону"}, {"у", "бік"}, {"head", "to"}, {"head", "north"}, {"head", "south"}, {"head", "east"}, {"head", "west"}}
	directions = set("север", "юг", "восток", "запад", "північ", "південь", "схід", "захід", "north", "south", "east", "west", "северо-запад", "северо-восток", "юго-запад", "юго-восток")
	dirPreps   = set("на", "к", "to", "towards", "toward", "heading", "head", "go")
	callWords  = []string{"позывн", "позивн", "callsign", "пароль", "паролем", "паролю", "password", "отзыв", "відзив", "countersign", "passphrase", "passcode", "challenge"}
	// Code words, passwords and recognition signals, said in two words.
	callPhrases = [][2]string{{"call", "sign"}, {"code", "word"}, {"code", "phrase"}, {"code", "name"}, {"recognition", "signal"}, {"recognition", "sign"},
		{"кодовое", "слово"}, {"кодове", "слово"}, {"кодовым", "словом"}, {"кодовим", "словом"}, {"кодовая", "фраза"}, {"кодова", "фраза"}, {"кодовую", "фразу"}, {"кодову", "фразу"},
		{"условный", "сигнал"}, {"условным", "сигналом"}, {"условного", "сигнала"}, {"умовний", "сигнал"}, {"умовним", "сигналом"}, {"умовного", "сигналу"},
		{"опознавательный", "знак"}, {"опознавательный", "сигнал"}, {"розпізнавальний", "знак"}, {"розпізнавальний", "сигнал"}}
	// After a code word or signal, words that tell it: "the password is …",
	// "пароль будет …".
	tellingVerbs = set("is", "will", "будет", "буде", "такой", "такий", "такая", "така")
	// Whose call sign: ours tells, his asks.
	tellingOwners = set("наш", "наша", "нашего", "мой", "моего", "мій", "мого", "оператора", "our", "my", "operator's")
	askingOwners  = set("ваш", "вашего", "твой", "твій", "какой", "який", "your", "what", "which")
	unitStems     = []string{"бригад", "батальон", "батальйон", "рот", "полк", "дивизи", "дивізі", "взвод", "отряд", "загін", "загону", "батаре", "корпус",
		"brigade", "battalion", "company", "regiment", "division", "platoon", "squad", "corps", "bde", "bn"}
	unitAbbr = []string{"омсбр", "омбр", "ошбр", "ошб", "дшбр", "дшб", "омпб", "огшбр", "обро", "омпбр", "одшбр", "мсп", "мсб", "тбр", "ополк"}
	ourWords = set("наш", "наша", "наши", "нашей", "нашего", "наших", "нашу", "наші", "нашої", "нашого", "our")
	ordinals = set("первый", "первая", "первой", "первого", "второй", "вторая", "второго", "третий", "третья", "третьей", "третьего", "четвёртый", "четвертый", "пятый", "пятая",
		"перший", "перша", "другий", "друга", "третій", "третя", "четвертий", "четверта", "п'ятий", "п'ята", "first", "second", "third", "fourth", "fifth")
	// Ordinals by stem, in any case and gender: "второго", "сьомої",
	// "двадцять п'ятої"; only before a unit word.
	ordinalStems = []string{"перв", "втор", "трет", "четв", "пят", "шест", "седьм", "восьм", "девят", "десят", "двадцат", "тридцат", "сороков", "пятидесят", "сот",
		"перш", "друг", "сьом", "шост", "п'ят", "дев'ят", "двадцят", "тридцят",
		"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth", "twentieth", "thirtieth", "fortieth", "fiftieth", "hundredth"}
	// leaders name who is in charge where he goes; with a dash and a name
	// after them, a person ("Старший группы — Олег").
	leaders = set("старший", "старшая", "старшим", "старшего", "старшой", "старшина", "старшину", "старшому", "главный", "головний", "senior", "leader", "head")
	titles  = set("командир", "командира", "командиру", "комбат", "комбата", "ротный", "ротного", "капитан", "капитана", "майор", "майора", "лейтенант", "лейтенанта", "полковник", "полковника", "подполковник", "подполковника",
		"сержант", "сержанта", "генерал", "генерала", "прапорщик", "прапорщика", "офицер", "офицера", "оператор", "оператора", "куратор", "куратора", "координатор", "координатора", "представитель", "представителя",
		"товарищ", "господин", "господина", "пан", "пана", "пані", "капітан", "капітана", "лейтенанта", "полковника", "офіцер", "офіцера", "представник", "представника", "боєць", "боец", "бойца", "бійця",
		"mr", "mrs", "ms", "captain", "capt", "major", "lieutenant", "lt", "colonel", "col", "sergeant", "sgt", "commander", "officer", "general", "private", "pte", "contact")
	meetVerbs = set("встретит", "встретят", "встречает", "встретим", "зустріне", "зустрінуть", "зустрінемо", "спросите", "спросить", "спитайте", "запитайте", "спроси", "обратитесь", "зверніться", "зовут", "звати", "ask", "meet", "meets", "name", "найдёт", "найдет", "знайде", "заберёт", "заберет", "забере")
)

func scanTokens(ts []token, tail string, found map[Disclosure]bool) {
	next := func(i int) *token {
		if i+1 < len(ts) {
			return &ts[i+1]
		}
		return nil
	}
	// joined reports whether token i+1 follows token i in the same clause.
	joined := func(i int) bool { return i+1 < len(ts) && !sentenceEnd(ts[i+1].sep) }
	// named reports whether, within k words after i in the same clause,
	// there is a capitalised word or a quoted one that is not a pronoun or
	// an app; skip lets lower-case words pass.
	named := func(i, k int, skip bool) bool {
		for j := i + 1; j <= i+k && j < len(ts); j++ {
			if sentenceEnd(ts[j].sep) || askingWords[ts[j].l] {
				return false
			}
			if (ts[j].cap || ts[j].quoted && ts[j].num < 0) && !notNames[ts[j].l] {
				return true
			}
			if !skip {
				return false
			}
		}
		return false
	}
	for i := range ts {
		t := &ts[i]
		n := next(i)
		prev := ""
		if i > 0 && !sentenceEnd(t.sep) {
			prev = ts[i-1].l
		}

		// Times: "6 утра", "6pm", "в 6", "о шостій", "в полночь".
		if (t.num >= 0 && t.num <= 24 || numberWords[t.l]) && n != nil && joined(i) && timeWords[n.l] && !withinWords[prev] {
			found[DiscloseTime] = true
		}
		if t.digits > 0 && t.digits <= 2 && slices.Contains([]string{"am", "pm", "h", "ч", "ч."}, t.l[t.digits:]) {
			found[DiscloseTime] = true
		}
		if timePreps[prev] && (t.num >= 0 && t.num <= 24 && t.digits <= 2 || numberWords[t.l] && prev != "на" && prev != "с" && prev != "з") {
			if n == nil || !joined(i) || strings.Contains(n.sep, ",") || timeFollowers[n.l] || timeWords[n.l] || n.cap {
				found[DiscloseTime] = true
			}
		}
		if ukOrdinalHours[t.l] && (prev == "о" || prev == "об" || prev == "до" || prev == "після") {
			found[DiscloseTime] = true
		}
		if instants[t.l] {
			found[DiscloseTime] = true
		}
		if t.num >= 0 && t.num <= 24 && n != nil && strings.TrimSpace(n.sep) == ":" && n.digits == 2 && n.num >= 0 && n.num < 60 {
			found[DiscloseTime] = true
		}
		if t.num >= 0 && t.digits <= 2 && n != nil && strings.TrimSpace(n.sep) == "." && n.digits >= 1 && n.digits <= 2 && n.num >= 0 {
			// 12.03 (a date) or 18.30 (a time); a date in a year long
			// gone (07.03.1994, a birth date) is no meeting.
			past := i+2 < len(ts) && strings.TrimSpace(ts[i+2].sep) == "." && ts[i+2].digits == 4 && ts[i+2].num < 2020
			switch {
			case past:
			case t.num >= 1 && t.num <= 31 && n.num >= 1 && n.num <= 12:
				found[DiscloseDate] = true
			case t.num <= 24 && n.num < 60 && n.digits == 2:
				found[DiscloseTime] = true
			}
		}
		if t.num >= 0 && t.digits <= 2 && n != nil && strings.TrimSpace(n.sep) == "/" && n.num >= 1 && n.num <= 12 && t.num >= 1 && t.num <= 31 {
			found[DiscloseDate] = true
		}

		// Dates: "завтра", "сегодня вечером", weekdays, "12 марта",
		// "3rd of May", "через два дня", "15 числа".
		if dayWords[t.l] || t.l == "day" && n != nil && n.l == "after" {
			found[DiscloseDate] = true
		}
		if todayWords[t.l] && n != nil && joined(i) && (partOfDay[n.l] || n.l == "в" || n.l == "о" || n.l == "at") {
			found[DiscloseDate] = true
		}
		if hasStem(t.l, weekdays) && !strings.HasPrefix(t.l, "середов") && !strings.HasPrefix(t.l, "среде") && !strings.HasPrefix(t.l, "четверт") && t.l != "рот" {
			found[DiscloseDate] = true
		}
		if t.digits > 0 && t.digits <= 2 && n != nil && joined(i) {
			m := n
			if n.l == "of" && i+2 < len(ts) {
				m = &ts[i+2]
			}
			if hasStem(m.l, months) && m.l != "may" || m.l == "may" && (t.l[t.digits:] != "" || n.l == "of") {
				found[DiscloseDate] = true
			}
			if n.l == "числа" || n.l == "числу" {
				found[DiscloseDate] = true
			}
		}
		if hasStem(t.l, months) && t.l != "may" && t.l != "март" && n != nil && joined(i) && n.digits > 0 && n.digits <= 2 {
			found[DiscloseDate] = true
		}
		if (t.l == "через" || t.l == "in") && n != nil && (n.num > 0 || numberWords[n.l]) && i+2 < len(ts) {
			u := ts[i+2].l
			if hasStem(u, dayUnits) {
				found[DiscloseDate] = true
			} else if hasStem(u, hourUnits) {
				found[DiscloseTime] = true
			}
		}

		// Places: "точка 3", "12 км", "улица Ленина", "у моста", "в
		// Бахмуте", "near the bridge".
		if placeNumberWords[t.l] && n != nil && joined(i) && (n.num >= 0 || n.digits > 0 || (n.l == "n" || n.l == "no" || strings.Contains(n.sep, "№")) && i+2 < len(ts) && ts[i+2].digits > 0) {
			found[DisclosePlace] = true
		}
		if t.digits > 0 && n != nil && joined(i) && distanceUnits[n.l] {
			found[DisclosePlace] = true
		}
		if streetWords[t.l] && n != nil && joined(i) && (n.cap || n.digits > 0) && !notNames[n.l] {
			found[DisclosePlace] = true
		}
		if placePreps[t.l] {
			for j := i + 1; j <= i+3 && j < len(ts); j++ {
				w := ts[j]
				if sentenceEnd(w.sep) || strings.Contains(w.sep, ",") || askingWords[w.l] {
					break
				}
				if hasStem(w.l, landmarks) && !notLandmark(w.l) || terrainForms[w.l] {
					found[DisclosePlace] = true
					break
				}
				if w.cap || w.upper {
					break
				}
			}
			if named(i, 2, true) {
				found[DisclosePlace] = true
			}
		}

		// Routes.
		if hasStem(t.l, routeWords) {
			found[DiscloseRoute] = true
		}
		if n != nil && joined(i) {
			for _, p := range routePairs {
				if t.l == p[0] && strings.HasPrefix(n.l, p[1]) {
					found[DiscloseRoute] = true
				}
			}
		}
		if t.l == "via" && n != nil && !notNames[n.l] {
			found[DiscloseRoute] = true
		}
		if directions[t.l] && (dirPreps[prev] || prev == "the" && i > 1 && dirPreps[ts[i-2].l] || n != nil && joined(i) && n.l == "of") {
			found[DiscloseRoute] = true
		}

		// Call signs: telling one, not asking for his.
		isCall, width := hasStem(t.l, callWords), 0
		if !isCall && n != nil && joined(i) {
			for _, p := range callPhrases {
				if t.l == p[0] && n.l == p[1] {
					isCall, width = true, 1
				}
			}
		}
		if isCall {
			after := i + width
			owner := ""
			for j := i - 1; j >= 0 && j >= i-2; j-- {
				if sentenceEnd(ts[j+1].sep) {
					break
				}
				if tellingOwners[ts[j].l] || askingOwners[ts[j].l] {
					owner = ts[j].l
					break
				}
			}
			sepAfter := ""
			if after+1 < len(ts) {
				sepAfter = ts[after+1].sep
			}
			switch {
			case named(after, 3, true):
				found[DiscloseCallSign] = true
			case tellingOwners[owner]:
				found[DiscloseCallSign] = true
			case !askingOwners[owner] && strings.ContainsAny(sepAfter, ":—–=") && after+1 < len(ts):
				found[DiscloseCallSign] = true
			case after+1 < len(ts) && tellingVerbs[ts[after+1].l] && t.l != "challenge" && !sentenceEnd(ts[after+1].sep) && !asks(ts, i, tail):
				found[DiscloseCallSign] = true // "Your recognition signal is two flashes"
			}
		}

		// Units: "3-я рота", "рота 2", "47-й бригады", "батальон «Восток»",
		// "наша бригада", "155 ОМСБр", "36th brigade".
		if hasStem(t.l, unitStems) && isUnitWord(t.l) {
			// A number, an ordinal or "our" before it, over at most two
			// words between ("3rd Assault Brigade", "сорок сьомої окремої бригади").
			for p := i - 1; p >= 0 && p >= i-3 && !sentenceEnd(ts[p+1].sep); p-- {
				if ts[p].digits > 0 || ordinals[ts[p].l] || hasStem(ts[p].l, ordinalStems) || ourWords[ts[p].l] {
					found[DiscloseUnit] = true
					break
				}
				if ts[p].num >= 0 || strings.Contains(ts[p+1].sep, ",") {
					break
				}
			}
			if n != nil && joined(i) && (n.digits > 0 || (n.quoted || n.cap) && !notNames[n.l]) {
				found[DiscloseUnit] = true
			}
		}
		if hasStem(t.l, unitAbbr) && utf8.RuneCountInString(t.l) <= 7 {
			found[DiscloseUnit] = true
		}

		// Persons: "командир Иванов", "капитана Петренко", "меня зовут
		// Сергей", "вас встретит Андрей", "Иван Петрович".
		if titles[t.l] && named(i, 2, false) {
			found[DisclosePerson] = true
		}
		if (titles[t.l] || leaders[t.l]) && i+1 < len(ts) {
			// "Старший группы — Олег", "командир поста: Петренко".
			for j := i + 1; j <= i+3 && j < len(ts) && !sentenceEnd(ts[j].sep); j++ {
				if strings.ContainsAny(ts[j].sep, "—–:") {
					if ts[j].cap && !notNames[ts[j].l] {
						found[DisclosePerson] = true
					}
					break
				}
			}
		}
		if titles[t.l] && n != nil && joined(i) && len([]rune(n.s)) == 1 && unicode.IsUpper([]rune(n.s)[0]) {
			found[DisclosePerson] = true // an initial: "капитан А. Петренко"
		}
		if meetVerbs[t.l] {
			j := i
			if n != nil && (n.l == "is" || n.l == "for" || n.l == "you") {
				j++
			}
			if named(j, 2, false) {
				found[DisclosePerson] = true
			}
		}
		if t.cap && n != nil && joined(i) && !notNames[t.l] && isPatronymic(n.l) {
			found[DisclosePerson] = true
		}
	}
}

// notLandmark rules out words a landmark stem matches by accident.
func notLandmark(w string) bool {
	return hasStem(w, []string{"школьн", "ферментн", "busy", "business", "stationary", "marketing", "damag", "трассиров", "мостов", "храмов", "gasp",
		"streaming", "fielded", "холмс", "шахтер", "шахтёр"})
}

// isUnitWord rules out words the unit stems match by accident: "роты" is
// a unit, "ротация" is not.
func isUnitWord(w string) bool {
	switch {
	case strings.HasPrefix(w, "рот"):
		return slices.Contains([]string{"рота", "роты", "роте", "роту", "ротой", "роти", "роті", "ротою"}, w)
	case strings.HasPrefix(w, "полк"):
		return slices.Contains([]string{"полк", "полка", "полку", "полком", "полке", "полки"}, w)
	case strings.HasPrefix(w, "company"):
		return w == "company"
	}
	return true
}

// isPatronymic reports whether w looks like a Russian or Ukrainian
// patronymic (Петрович, Іванівна).
func isPatronymic(w string) bool {
	for _, s := range []string{"ович", "евич", "йович", "овна", "евна", "івна", "ївна", "овича", "евича", "овны", "евны"} {
		if strings.HasSuffix(w, s) && len([]rune(w)) > len([]rune(s))+2 {
			return true
		}
	}
	return false
}

// asks reports whether the sentence of token i ends in a question mark;
// tail is what follows the text's last word.
func asks(ts []token, i int, tail string) bool {
	for j := i + 1; j < len(ts); j++ {
		if sentenceEnd(ts[j].sep) {
			return strings.Contains(ts[j].sep, "?")
		}
	}
	return strings.Contains(tail, "?")
}

var (
	// moveVerbs tell him to go, come or wait somewhere, by stem.
	moveVerbs = []string{"выход", "выйд", "выдвига", "выдвин", "иди", "идите", "пройд", "проход", "подход", "подойд", "двига", "двинь", "полз", "переход", "перейд", "перебег", "спуск", "спуст", "подним", "будьте", "ждите", "жди", "уход", "уйд", "беги", "бегите", "держит", "сверн", "поверн", "отход", "отойд", "прячьт", "спрячьт",
		"виход", "вийд", "йдіть", "ідіть", "іди", "йди", "підход", "підійд", "рухай", "повз", "перейд", "переход", "спуск", "будьте", "чекайте", "чекай", "тримайт", "поверн", "відход", "відійд", "ховайт", "сховайт", "біжіть",
		"go", "walk", "crawl", "move", "leave", "head", "come", "cross", "follow", "run", "be", "wait", "start", "proceed", "hide", "get", "make"}
	// pathPreps lead along or across terrain: "по балке", "через поле",
	// "along the ditch".
	pathPreps = set("по", "вдоль", "вздовж", "уздовж", "понад", "через", "мимо", "повз", "along", "through", "across", "down", "up", "past", "over", "via")
	// relUnits are units of a wait measured from now, by stem.
	relUnits = []string{"минут", "мин", "полчас", "час", "хвилин", "годин", "півгодин", "minute", "min", "hour", "half"}
	// minuteWords are the minutes of a time said in words ("шесть
	// тридцать", "seven thirty").
	minuteWords = set("десять", "пятнадцать", "двадцать", "тридцать", "сорок", "пятьдесят", "п'ятнадцять", "двадцять", "тридцять", "п'ятдесят",
		"ten", "fifteen", "twenty", "thirty", "forty", "fifty", "oh")
	// hourOrdinals are the hours of "в половине пятого", "полшестого", "пів
	// на шосту".
	hourOrdinals = set("первого", "второго", "третьего", "четвёртого", "четвертого", "пятого", "шестого", "седьмого", "восьмого", "девятого", "десятого", "одиннадцатого", "двенадцатого",
		"першу", "другу", "третю", "четверту", "п'яту", "шосту", "сьому", "восьму", "дев'яту", "десяту", "одинадцяту", "дванадцяту")
	// minutesTo say how long before the hour: "без четверти шесть".
	minutesTo = set("четверти", "чверті", "пяти", "п'яти", "десяти", "пятнадцати", "п'ятнадцяти", "двадцати", "двадцяти")
)

// scanInstructions finds what an instruction to move tells: a wait from
// now ("через полчаса будьте…", "in twenty minutes, go"), a time in words
// ("в шесть тридцать", "в половине пятого", "без четверти шесть", "half
// past five"), a path over terrain ("по балке до линии ЛЭП", "ідіть
// балкою", "crawl along the ditch") and a unit of the speaker's side
// named by its number alone ("ребята из 93-й").
func scanInstructions(ts []token, found map[Disclosure]bool) {
	// Sentences: [start, end) token ranges.
	start := 0
	for i := 0; i <= len(ts); i++ {
		if i < len(ts) && (i == start || !sentenceEnd(ts[i].sep)) {
			continue
		}
		sentence(ts[start:i], found)
		start = i
	}
}

func sentence(ts []token, found map[Disclosure]bool) {
	moves := false
	for _, t := range ts {
		if hasStem(t.l, moveVerbs) && (len(t.l) > 2 || t.l == "go" || t.l == "be") {
			moves = true
		}
	}
	at := func(i int) string {
		if i >= 0 && i < len(ts) {
			return ts[i].l
		}
		return ""
	}
	isNumber := func(i int) bool {
		return i >= 0 && i < len(ts) && (ts[i].num > 0 || numberWords[ts[i].l] || minuteWords[ts[i].l] || ts[i].l == "пару" || ts[i].l == "пів" || ts[i].l == "пол" || ts[i].l == "an" || ts[i].l == "a")
	}
	for i, t := range ts {
		// A wait from now, in an instruction to move: "через полчаса",
		// "за двадцять хвилин", "минут через сорок", "in about an hour".
		if moves && (t.l == "через" || t.l == "за" || t.l == "in" || t.l == "within") {
			for j := i + 1; j <= i+4 && j < len(ts); j++ {
				if hasStem(ts[j].l, relUnits) && (j == i+1 && (ts[j].l == "полчаса" || ts[j].l == "півгодини" || ts[j].l == "час" || ts[j].l == "годину") || isNumber(j-1) || ts[j-1].l == "about" || ts[j-1].l == "примерно" || ts[j-1].l == "около" || ts[j-1].l == "приблизно") {
					found[DiscloseTime] = true
					break
				}
			}
		}
		if moves && hasStem(t.l, relUnits) && (at(i+1) == "через" || at(i+1) == "за") && isNumber(i+2) {
			found[DiscloseTime] = true
		}
		// Times in words.
		if numberWords[t.l] && minuteWords[at(i+1)] {
			found[DiscloseTime] = true // "шесть тридцать", "seven thirty"
		}
		if strings.HasPrefix(t.l, "половин") && hourOrdinals[at(i+1)] || strings.HasPrefix(t.l, "пол") && hourOrdinals[strings.TrimPrefix(t.l, "пол")] {
			found[DiscloseTime] = true // "в половине пятого", "полшестого"
		}
		if (t.l == "пів" || t.l == "пол") && at(i+1) == "на" && hourOrdinals[at(i+2)] {
			found[DiscloseTime] = true // "о пів на шосту"
		}
		if t.l == "без" && minutesTo[at(i+1)] && (numberWords[at(i+2)] || i+2 < len(ts) && ts[i+2].num > 0) {
			found[DiscloseTime] = true // "без четверти шесть"
		}
		if (t.l == "half" && at(i+1) == "past" || t.l == "quarter" && (at(i+1) == "past" || at(i+1) == "to")) && (numberWords[at(i+2)] || i+2 < len(ts) && ts[i+2].num > 0) {
			found[DiscloseTime] = true // "half past five", "a quarter to six"
		}
		// A path over terrain: a movement and a landmark after a path
		// preposition, or a landmark it goes by ("ідіть балкою").
		if moves && pathPreps[t.l] {
			for j := i + 1; j <= i+3 && j < len(ts); j++ {
				if strings.Contains(ts[j].sep, ",") {
					break
				}
				if hasStem(ts[j].l, landmarks) && !notLandmark(ts[j].l) || terrainForms[ts[j].l] {
					found[DiscloseRoute] = true
					break
				}
			}
		}
		if hasStem(t.l, moveVerbs) && (len(t.l) > 2 || t.l == "go" || t.l == "be") {
			// Straight to the landmark it goes by or over, past at most an
			// article or "for": "ідіть балкою", "держитесь русла", "cross
			// the field", "head for the treeline".
			for j := i + 1; j <= i+3 && j < len(ts); j++ {
				if w := ts[j].l; hasStem(w, landmarks) && !notLandmark(w) || terrainForms[w] {
					found[DiscloseRoute] = true
					break
				}
				if w := ts[j].l; w != "the" && w != "a" && w != "for" && w != "to" {
					break
				}
			}
		}
		// A unit by its number alone: "из 93-й", "з 47-ї".
		if (t.l == "из" || t.l == "с" || t.l == "з" || t.l == "із" || t.l == "от" || t.l == "від") && i+1 < len(ts) && ts[i+1].digits > 0 {
			suffix := strings.TrimPrefix(ts[i+1].l[ts[i+1].digits:], "-")
			if slices.Contains([]string{"й", "я", "ой", "ей", "ї", "ої", "го", "ого"}, suffix) {
				found[DiscloseUnit] = true
			}
		}
	}
}
