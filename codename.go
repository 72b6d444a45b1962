// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// codeNameWords are the words code names are drawn from: neutral English
// names of birds, animals and weather, in capitals. The list leaves out
// words that are also names of weapons, vehicles or units in this war (Grad
// is "hail", the Orlan drone an eagle, the Gepard a cheetah), words that
// are insults or prison slang in Russian or Ukrainian, and first names. Add
// words with the same care; removing one does not invalidate existing code
// names (see ValidCodeName).
var codeNameWords = strings.Fields(`
AVOCET BITTERN BLACKBIRD BLUEBIRD BLUETHROAT BRAMBLING BULLFINCH BUNTING CANARY CHAFFINCH
CHIFFCHAFF CORMORANT CRAKE CRANE CURLEW DIPPER DOTTEREL DOVE DUNLIN EGRET EIDER FIELDFARE FINCH
FIRECREST FLAMINGO FULMAR GANNET GARGANEY GODWIT GOLDCREST GOLDFINCH GREBE GREENFINCH GREENSHANK
GROUSE GUILLEMOT GULL HOOPOE IBIS JACKDAW KESTREL KINGFISHER KITTIWAKE KIWI LAPWING LARK LINNET
MAGPIE MALLARD MOORHEN NIGHTINGALE NIGHTJAR NUTHATCH ORIOLE OUZEL PARTRIDGE PELICAN PETREL
PHALAROPE PHEASANT PINTAIL PIPIT PLOVER PUFFIN QUAIL REDPOLL REDSHANK REDSTART REDWING RUFF
SANDERLING SANDPIPER SERIN SHELDUCK SHOVELER SISKIN SKYLARK SPARROW STARLING STILT STONECHAT
SWALLOW SWAN TEAL TERN THRUSH TOUCAN TREECREEPER TURNSTONE TWITE WAGTAIL WARBLER WAXWING WHEATEAR
WHIMBREL WHINCHAT WIGEON WREN WRYNECK YELLOWHAMMER ALPACA ANTEATER ANTELOPE ARMADILLO BADGER BEAVER
BISON CAMEL CARIBOU CHAMOIS CHINCHILLA CHIPMUNK DOLPHIN DORMOUSE ELK ERMINE FERRET GAZELLE GECKO
GIRAFFE GOPHER HAMSTER HARE HEDGEHOG IBEX IMPALA JERBOA KOALA LEMUR LLAMA MARMOT MEERKAT MINK MOOSE
NARWHAL NEWT OCELOT OKAPI OTTER PANDA PLATYPUS PONY PORPOISE RACCOON REINDEER SABLE SALAMANDER
SEAHORSE SEAL SQUIRREL STARFISH STOAT TAPIR TORTOISE TURTLE WALRUS WOMBAT YAK ZEBRA DRAGONFLY
BUTTERFLY CRICKET LADYBIRD FIREFLY MANTIS SALMON TROUT STURGEON PERCH MARLIN TUNA HALIBUT MACKEREL
HERRING LOBSTER AURORA BREEZE CIRRUS CUMULUS DEW DRIZZLE FOG FROST GALE HAZE ICICLE MIST MONSOON
NIMBUS RAINBOW SLEET SNOWFALL SNOWDRIFT SOLSTICE SUNRISE SUNSET TWILIGHT ZEPHYR THAW SQUALL STRATUS
MOONLIGHT STARLIGHT EQUINOX DUSK RAINDROP SNOWFLAKE SUNBEAM SUNSHINE DEWDROP
`)

// NewCodeName returns a random code name, a word from a fixed list and four
// digits, such as "KESTREL-4821". It uses crypto/rand and nothing else: a
// code name is never derived from personal data. There are about two
// million code names, so two cases will share one long before the program
// ends; the store must enforce uniqueness and the caller draw again.
func NewCodeName() string {
	word := codeNameWords[randIntN(len(codeNameWords))]
	return fmt.Sprintf("%s-%04d", word, randIntN(10000))
}

// ValidCodeName reports whether s has the form of a code name: 3 to 16
// capital letters A–Z, a hyphen and four digits. The word need not be in the
// current list, so that code names stay valid when the list changes.
func ValidCodeName(s string) bool {
	word, digits, ok := strings.Cut(s, "-")
	if !ok || len(word) < 3 || len(word) > 16 || len(digits) != 4 {
		return false
	}
	for _, c := range []byte(word) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// randIntN returns a uniform random int in [0, n) from crypto/rand.
func randIntN(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		// crypto/rand.Reader does not fail; the runtime aborts first.
		panic("lifeline: crypto/rand: " + err.Error())
	}
	return int(v.Int64())
}
