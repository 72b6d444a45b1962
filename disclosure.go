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
	scanTokens(tokenize(text), found, strings.ContainsAny(text, "?？"))
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
	minuteWords = set("ноль", "пятнадцать", "двадцать", "тридцать", "сорок", "пятьдесят", "нуль", "п'ятнадцять", "двадцять", "тридцять", "п'ятдесят",
		"fifteen", "twenty", "thirty", "forty", "fifty", "oh", "сорока", "двадцати", "тридцати", "пятнадцати")
	minuteUnits = []string{"минут", "хвилин", "minute", "min"}
	// promiseStems make a time in their clause our promise to him (we will
	// answer, call, write), unless the clause also tells him to move.
	promiseStems = []string{"ответ", "свяж", "напиш", "отпиш", "перезвон", "сообщ", "пришл", "отправ", "відпов", "зв'яж", "повідом", "надішл", "reply", "send you", "answer", "respond", "contact", "get back", "write", "call you", "let you know"}
	moveStems    = []string{"выход", "выдвига", "иди", "идит", "будьте", "ждит", "двига", "ползи", "подход", "подойд", "встреч", "виход", "ідіть", "йдіть", "чекайте", "будьте", "рухай", "зустр", "підход", "go ", "come", "wait", "be at", "head", "move", "meet", "walk", "crawl"}
	dayUnits     = []string{"дня", "дней", "день", "суток", "сутки", "днів", "дні", "days", "day", "недел", "тижн", "тиждень", "week"}
	hourUnits    = []string{"час", "годин", "hour"}

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
		// Terrain and ruins a front line is read by.
		"будк", "трансформатор", "подстанц", "лэп", "леп", "опор", "балк", "овраг", "ручь", "ручей", "насып", "полустан", "руин", "развалин", "сарай", "ангар", "склад", "силос", "карьер", "шахт", "терикон",
		"будці", "будки", "яр", "струмк", "насип", "руїн", "сара", "кар'єр", "шахт", "русл", "ставк", "ярк", "ярок", "електропередач", "электропередач", "балкою", "полем", "поле",
		"silo", "ravine", "gully", "stream", "creek", "embankment", "ruins", "barn", "shed", "warehouse", "pylon", "substation", "quarry", "mine", "crossing", "fork", "culvert", "field", "riverbed"}
	// Words that follow a place preposition without naming the place:
	// asking where he is names nothing.
	askingWords = set("каком", "какой", "какую", "какого", "каких", "котором", "которой", "якому", "якій", "яку", "якого", "яких", "which", "what", "your", "ваш", "вашем", "вашей", "вашу", "вашего", "твоем", "твоём", "вашому", "вашій", "твоєму")
	// Capitalised words that name no place or person.
	notNames = set("вы", "вас", "вам", "вами", "ваш", "ваша", "ваше", "ваши", "вашего", "вашей", "вашем", "вашим", "ваших", "вашу", "ви", "тебе", "тебя", "ты", "твой", "ти", "твій", "вашої", "вашому", "вашій", "вашим",
		"you", "your", "i", "we", "our", "he", "she", "they",
		"telegram", "телеграм", "телеграме", "телеграмм", "телеграмі", "whatsapp", "ватсап", "вотсап", "signal", "сигнал", "viber", "вайбер", "вайбере",
		"украина", "украине", "украину", "украины", "україна", "україні", "україну", "україни", "ukraine", "россия", "россии", "росія", "росії", "russia",
		"russian", "ukrainian", "english", "хочу", "бог", "god", "женевской", "женевська", "geneva", "красный", "червоний", "red", "оон", "un", "мккк", "icrc")
	routeWords = []string{"маршрут", "route", "налево", "направо", "ліворуч", "праворуч", "вдоль", "вздовж", "along", "правее", "левее", "правіше", "лівіше", "правіш", "лівіш"}
	routePairs = [][2]string{{"по", "трасс"}, {"по", "трас"}, {"по", "дорог"}, {"по", "дороз"}, {"дорога", "на"}, {"дорогу", "на"}, {"дорога", "до"}, {"дорогу", "до"}, {"road", "to"}, {"turn", "left"}, {"turn", "right"}, {"follow", "the"}, {"в", "сторону"}, {"у", "бік"}, {"head", "to"}, {"head", "north"}, {"head", "south"}, {"head", "east"}, {"head", "west"}, {"left", "of"}, {"right", "of"}, {"keep", "left"}, {"keep", "right"}}
	directions = set("север", "юг", "восток", "запад", "північ", "південь", "схід", "захід", "north", "south", "east", "west", "северо-запад", "северо-восток", "юго-запад", "юго-восток")
	dirPreps   = set("на", "к", "to", "towards", "toward", "heading", "head", "go")
	callWords  = []string{"позывн", "позивн", "callsign", "пароль", "паролем", "паролю", "password", "passphrase", "отзыв", "відзив", "відгук", "countersign", "сигнал"}
	// Verbs that ask him for something ("назовите ваш позывной").
	askingVerbs = []string{"назови", "назовит", "назвіть", "скажит", "скажіть", "напишит", "напишіть", "уточнит", "уточніть", "tell us", "give us", "let us know", "what", "which", "какой", "який", "яка"}
	// A signal told by light, sound or gesture is a recognition signal.
	signalStems = []string{"flash", "blink", "torch", "flashlight", "фонар", "ліхтар", "моргн", "мигн", "мигал", "блима", "свист", "whistle", "помаш", "помах", "wave"}
	callPhrases = [][2]string{{"call", "sign"}, {"code", "word"}, {"code", "phrase"}, {"кодовое", "слово"}, {"кодове", "слово"}, {"кодовым", "словом"}, {"кодовим", "словом"},
		{"кодовая", "фраза"}, {"кодова", "фраза"}, {"кодовую", "фразу"}, {"условный", "сигнал"}, {"умовний", "сигнал"}, {"условным", "сигналом"}, {"умовним", "сигналом"},
		{"recognition", "signal"}, {"the", "signal"}, {"the", "challenge"}, {"reply", "to"}}
	// Whose call sign: ours tells, his asks.
	tellingOwners = set("наш", "наша", "нашего", "мой", "моего", "мій", "мого", "оператора", "our", "my", "operator's")
	askingOwners  = set("ваш", "вашего", "твой", "твій", "какой", "який", "your", "what", "which")
	unitStems     = []string{"бригад", "батальон", "батальйон", "рот", "полк", "дивизи", "дивізі", "взвод", "отряд", "загін", "загону", "батаре", "корпус",
		"brigade", "battalion", "company", "regiment", "division", "platoon", "squad", "corps", "bde", "bn"}
	unitAbbr = []string{"омсбр", "омбр", "ошбр", "ошб", "дшбр", "дшб", "омпб", "огшбр", "обро", "омпбр", "одшбр", "мсп", "мсб", "тбр", "ополк"}
	ourWords = set("наш", "наша", "наши", "нашей", "нашего", "наших", "нашу", "наші", "нашої", "нашого", "our")
	// Ordinals as they stand before a unit, by stem and ending.
	ordinalStems = []string{"сьомої", "шостої", "п'ятої", "третьої", "другої", "першої", "четвертої", "восьмої", "дев'ятої", "десятої",
		"седьмой", "шестой", "пятой", "третьей", "второй", "первой", "четвёртой", "четвертой", "восьмой", "девятой", "десятой"}
	ordinals = set("первый", "первая", "первой", "первого", "второй", "вторая", "второго", "третий", "третья", "третьей", "третьего", "четвёртый", "четвертый", "пятый", "пятая",
		"перший", "перша", "другий", "друга", "третій", "третя", "четвертий", "четверта", "п'ятий", "п'ята", "first", "second", "third", "fourth", "fifth")
	titles = set("командир", "командира", "командиру", "комбат", "комбата", "ротный", "ротного", "капитан", "капитана", "майор", "майора", "лейтенант", "лейтенанта", "полковник", "полковника", "подполковник", "подполковника",
		"сержант", "сержанта", "генерал", "генерала", "прапорщик", "прапорщика", "офицер", "офицера", "оператор", "оператора", "куратор", "куратора", "координатор", "координатора", "представитель", "представителя",
		"товарищ", "господин", "господина", "пан", "пана", "пані", "капітан", "капітана", "лейтенанта", "полковника", "офіцер", "офіцера", "представник", "представника", "боєць", "боец", "бойца", "бійця",
		"mr", "mrs", "ms", "captain", "capt", "major", "lieutenant", "lt", "colonel", "col", "sergeant", "sgt", "commander", "officer", "general", "private", "pte", "contact")
	meetVerbs = set("встретит", "встретят", "встречает", "встретим", "зустріне", "зустрінуть", "зустрінемо", "спросите", "спросить", "спитайте", "запитайте", "спроси", "обратитесь", "зверніться", "зовут", "звати", "ask", "meet", "meets", "name", "найдёт", "найдет", "знайде", "заберёт", "заберет", "забере")
)

func scanTokens(ts []token, found map[Disclosure]bool, question bool) {
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
		if (dayWords[t.l] || t.l == "day" && n != nil && n.l == "after") && !promise(ts, i) {
			found[DiscloseDate] = true
		}
		if todayWords[t.l] && n != nil && joined(i) && (partOfDay[n.l] || n.l == "в" || n.l == "о" || n.l == "at") {
			found[DiscloseDate] = true
		}
		if hasStem(t.l, weekdays) && !strings.HasPrefix(t.l, "четверт") && !strings.HasPrefix(t.l, "середов") && !strings.HasPrefix(t.l, "среде") && t.l != "рот" {
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
		// "через полчаса", "через сорок минут", "через час", "in an hour",
		// "in half an hour": when to move, unless it is our promise to
		// answer ("мы ответим через час").
		if (t.l == "через" || t.l == "in" || t.l == "within") && n != nil && joined(i) && !promise(ts, i) {
			u := n.l
			if (n.num > 0 || numberWords[n.l] || minuteWords[n.l] || n.l == "an" || n.l == "a" || n.l == "half" || n.l == "пів" || n.l == "полтора" || n.l == "півтори") && i+2 < len(ts) {
				u = ts[i+2].l
				if (u == "an" || u == "a") && i+3 < len(ts) {
					u = ts[i+3].l
				}
			}
			if hasStem(u, hourUnits) || hasStem(u, minuteUnits) || hasStem(u, []string{"полчаса", "пол часа", "полчас"}) {
				found[DiscloseTime] = true
			}
		}
		// "в шесть тридцать", "at six thirty", "о шостій тридцять".
		if (timePreps[prev] || prev == "о") && (numberWords[t.l] || ukOrdinalHours[t.l] || t.num >= 0 && t.num <= 24 && t.digits <= 2) && n != nil && joined(i) && minuteWords[n.l] {
			found[DiscloseTime] = true
		}
		// "в половине седьмого", "о пів на шосту", "half past six", "quarter to seven".
		if (t.l == "половине" || t.l == "пів" || t.l == "half" || t.l == "quarter" || t.l == "четверть") && n != nil && joined(i) &&
			(n.l == "past" || n.l == "to" || n.l == "на" || hasStem(n.l, []string{"седьм", "шест", "пят", "восьм", "девят", "десят", "одиннадц", "двенадц", "перв", "втор", "трет", "четвер"}) || ukOrdinalHours[n.l]) {
			found[DiscloseTime] = true
		}
		if (t.l == "через" || t.l == "in") && n != nil && (n.num > 0 || numberWords[n.l]) && i+2 < len(ts) && !promise(ts, i) {
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
				if hasStem(w.l, landmarks) && !notLandmark(w.l) {
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
		// Along terrain: "по балке", "по оврагу до", "along the ravine".
		if t.l == "по" || t.l == "вздовж" || t.l == "along" || t.l == "across" || t.l == "через" || t.l == "уздовж" || t.l == "понад" || t.l == "cross" || t.l == "держитесь" || t.l == "тримайтеся" || t.l == "keep" || t.l == "follow" {
			for j := i + 1; j <= i+3 && j < len(ts); j++ {
				if sentenceEnd(ts[j].sep) || strings.Contains(ts[j].sep, ",") {
					break
				}
				if hasStem(ts[j].l, landmarks) && !notLandmark(ts[j].l) && !hasStem(ts[j].l, dayUnits) {
					found[DiscloseRoute] = true
					break
				}
			}
		}
		if directions[t.l] && (dirPreps[prev] || n != nil && joined(i) && n.l == "of" || prev == "the" && i >= 2 && dirPreps[ts[i-2].l]) {
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
			// "ваш позывной" asks only in a question or a request for it;
			// "your recognition signal is two flashes" tells.
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
			asks := askingOwners[owner] && (question || clauseHas(ts, i, askingVerbs))
			switch {
			case asks:
			case named(after, 3, true):
				found[DiscloseCallSign] = true
			case tellingOwners[owner]:
				found[DiscloseCallSign] = true
			case strings.ContainsAny(sepAfter, ":—–=") && after+1 < len(ts):
				found[DiscloseCallSign] = true
			case clauseHas(ts, i, signalStems):
				found[DiscloseCallSign] = true
			case owner != "" && askingOwners[owner] && after+1 < len(ts) && (ts[after+1].l == "is" || ts[after+1].l == "—" || ts[after+1].l == "будет" || ts[after+1].l == "буде"):
				found[DiscloseCallSign] = true
			}
		}

		// Units: "3-я рота", "рота 2", "47-й бригады", "батальон «Восток»",
		// "наша бригада", "155 ОМСБр", "36th brigade".
		if hasStem(t.l, unitStems) && isUnitWord(t.l) {
			p := i - 1
			if p >= 0 && !sentenceEnd(t.sep) && (ts[p].digits > 0 || ordinals[ts[p].l] || ourWords[ts[p].l]) {
				found[DiscloseUnit] = true
			}
			// "3rd Assault Brigade", "47-й отдельной бригады", "сорок
			// сьомої бригади": a number with one word between.
			if p >= 1 && !sentenceEnd(t.sep) && !sentenceEnd(ts[p].sep) && (ts[p-1].digits > 0 || ordinals[ts[p-1].l] || numberWords[ts[p-1].l] || minuteWords[ts[p-1].l]) {
				found[DiscloseUnit] = true
			}
			if p >= 0 && !sentenceEnd(t.sep) && hasStem(ts[p].l, ordinalStems) {
				found[DiscloseUnit] = true
			}
			if n != nil && joined(i) && (n.digits > 0 || (n.quoted || n.cap) && !notNames[n.l]) {
				found[DiscloseUnit] = true
			}
		}
		if (prev == "из" || prev == "з" || prev == "із" || prev == "from" || prev == "with") && t.digits >= 2 && t.digits < len(t.l) &&
			slices.Contains([]string{"-й", "-я", "-ї", "-ої", "-ей", "-ой", "-го", "-ої", "th", "rd", "nd", "st", "-ю", "-ий"}, t.l[t.digits:]) {
			found[DiscloseUnit] = true
		}
		if hasStem(t.l, unitAbbr) && utf8.RuneCountInString(t.l) <= 7 {
			found[DiscloseUnit] = true
		}

		// Persons: "командир Иванов", "капитана Петренко", "меня зовут
		// Сергей", "вас встретит Андрей", "Иван Петрович".
		if strings.HasPrefix(t.l, "старш") && (t.l == "старший" || t.l == "старшой" || t.l == "старшим" || t.l == "старшего" || t.l == "старшого") && named(i, 3, true) {
			found[DisclosePerson] = true
		}
		if titles[t.l] && named(i, 2, false) {
			found[DisclosePerson] = true
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

// promise reports whether the clause around token i promises him an answer
// (we will reply, write, call) and tells him no move: then a time in it is
// when he hears from us, not when to go.
func promise(ts []token, i int) bool {
	return clauseHas(ts, i, promiseStems) && !clauseHas(ts, i, moveStems)
}

// clauseHas reports whether the sentence around token i has one of stems.
func clauseHas(ts []token, i int, stems []string) bool {
	start, end := i, i
	for start > 0 && !sentenceEnd(ts[start].sep) {
		start--
	}
	for end+1 < len(ts) && !sentenceEnd(ts[end+1].sep) {
		end++
	}
	return containsAny(clauseText(ts, start, end), stems)
}

func clauseText(ts []token, start, end int) string {
	var clause strings.Builder
	for _, t := range ts[start : end+1] {
		clause.WriteString(t.l)
		clause.WriteByte(' ')
	}
	return clause.String()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// notLandmark rules out words a landmark stem matches by accident.
func notLandmark(w string) bool {
	return hasStem(w, []string{"школьн", "ферментн", "busy", "business", "stationary", "marketing", "damag", "трассиров", "мостов", "храмов", "gasp"})
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
