"""Generate the demo region: a synthetic Göteborgsregionen for Praktik.

    python -m data.generate [--seed 2026] [--out data/demo]

writes ``region.json`` (format ``praktik-demo/1``, described in data/README.md):
the 13 municipalities with their real codes and centres, about 40 invented
schools with year-8 classes spread over three placement periods, about 600
invented employers with offers, about 4,700 invented pupils with ranked
preferences, a few self-arranged placements, and the users.

All randomness comes from one ``random.Random(seed)``: a seed always gives the
same bytes.  Every person, company, school, address, phone number and
organisation number is invented.  Phone numbers come from the series the
Swedish Post and Telecom Authority (PTS) reserves for fiction.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import datetime as dt
import itertools
import json
import math
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from placement.enums import Gender, Sector

FORMAT = "praktik-demo/1"
DEFAULT_SEED = 2026
DEFAULT_OUT = Path(__file__).parent / "demo"
FILENAME = "region.json"

# --------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class District:
    """A part of a municipality: a school is placed in it, employers cluster around it."""

    name: str
    town: str  # postal town
    zip3: str  # first three digits of its postcodes
    lat: float
    lon: float
    need: float  # typical need index of its schools


@dataclass(frozen=True)
class Municipality:
    code: str  # the real municipality code (kommunkod)
    name: str
    lat: float
    lon: float
    schools: int  # at scale 1; the first ``schools`` districts get one each
    pupils: tuple[int, int]  # range of year-8 pupils per school
    employer_weight: float  # share of the region's employers
    districts: tuple[District, ...]


D = District
MUNICIPALITIES = (
    Municipality("1480", "Göteborg", 57.70716, 11.96679, 17, (70, 200), 52, (
        D("Angered", "Angered", "424", 57.7960, 12.0480, 1.75),
        D("Bergsjön", "Göteborg", "415", 57.7530, 12.0710, 1.70),
        D("Biskopsgården", "Göteborg", "418", 57.7270, 11.8930, 1.60),
        D("Tynnered", "Västra Frölunda", "421", 57.6500, 11.9000, 1.35),
        D("Kortedala", "Göteborg", "415", 57.7530, 12.0370, 1.30),
        D("Gamlestaden", "Göteborg", "415", 57.7290, 12.0050, 1.15),
        D("Backa", "Hisings Backa", "422", 57.7560, 11.9850, 1.05),
        D("Lundby", "Göteborg", "417", 57.7180, 11.9310, 1.00),
        D("Högsbo", "Västra Frölunda", "421", 57.6700, 11.9350, 1.00),
        D("Kärra", "Hisings Kärra", "425", 57.7930, 11.9700, 0.90),
        D("Majorna", "Göteborg", "414", 57.6930, 11.9200, 0.85),
        D("Centrum", "Göteborg", "411", 57.7060, 11.9700, 0.80),
        D("Torslanda", "Torslanda", "423", 57.7230, 11.7800, 0.70),
        D("Linnéstaden", "Göteborg", "413", 57.6950, 11.9480, 0.70),
        D("Johanneberg", "Göteborg", "412", 57.6880, 11.9780, 0.70),
        D("Örgryte", "Göteborg", "416", 57.6950, 12.0050, 0.65),
        D("Askim", "Askim", "436", 57.6300, 11.9400, 0.60),
    )),
    Municipality("1481", "Mölndal", 57.65540, 12.01380, 3, (60, 180), 8, (
        D("Centrum", "Mölndal", "431", 57.6554, 12.0138, 1.05),
        D("Kållered", "Kållered", "428", 57.6100, 12.0500, 0.85),
        D("Lindome", "Lindome", "437", 57.5780, 12.0800, 0.75),
    )),
    Municipality("1384", "Kungsbacka", 57.48750, 12.07620, 4, (50, 160), 7, (
        D("Centrum", "Kungsbacka", "434", 57.4875, 12.0762, 0.80),
        D("Onsala", "Onsala", "439", 57.4170, 12.0150, 0.65),
        D("Kullavik", "Kullavik", "429", 57.5500, 11.9500, 0.60),
        D("Åsa", "Åsa", "439", 57.3500, 12.1250, 0.80),
    )),
    Municipality("1482", "Kungälv", 57.87080, 11.98050, 2, (50, 150), 4.5, (
        D("Centrum", "Kungälv", "442", 57.8708, 11.9805, 0.90),
        D("Ytterby", "Ytterby", "442", 57.8620, 11.9250, 0.80),
    )),
    Municipality("1441", "Lerum", 57.77050, 12.26900, 2, (50, 150), 4, (
        D("Centrum", "Lerum", "443", 57.7705, 12.2690, 0.80),
        D("Gråbo", "Gråbo", "443", 57.8370, 12.3000, 0.85),
    )),
    Municipality("1402", "Partille", 57.73940, 12.10640, 2, (50, 150), 4, (
        D("Centrum", "Partille", "433", 57.7394, 12.1064, 1.00),
        D("Sävedalen", "Sävedalen", "433", 57.7310, 12.0700, 0.75),
    )),
    Municipality("1401", "Härryda", 57.65900, 12.11700, 2, (50, 150), 3.5, (
        D("Mölnlycke", "Mölnlycke", "435", 57.6590, 12.1170, 0.70),
        D("Landvetter", "Landvetter", "438", 57.6880, 12.2100, 0.80),
    )),
    Municipality("1489", "Alingsås", 57.93000, 12.53300, 2, (50, 150), 4.5, (
        D("Centrum", "Alingsås", "441", 57.9300, 12.5330, 1.00),
        D("Noltorp", "Alingsås", "441", 57.9390, 12.5050, 1.25),
    )),
    Municipality("1440", "Ale", 57.89670, 12.05670, 2, (40, 130), 3, (
        D("Nödinge", "Nödinge", "449", 57.8967, 12.0567, 1.05),
        D("Älvängen", "Älvängen", "446", 57.9600, 12.1200, 0.95),
    )),
    Municipality("1415", "Stenungsund", 58.07050, 11.81810, 1, (60, 140), 3, (
        D("Centrum", "Stenungsund", "444", 58.0705, 11.8181, 0.90),
    )),
    Municipality("1419", "Tjörn", 57.99060, 11.55020, 1, (40, 110), 1.5, (
        D("Skärhamn", "Skärhamn", "471", 57.9906, 11.5502, 0.85),
    )),
    Municipality("1407", "Öckerö", 57.71000, 11.65000, 1, (40, 110), 1.2, (
        D("Öckerö", "Öckerö", "475", 57.7100, 11.6500, 0.70),
    )),
    Municipality("1462", "Lilla Edet", 58.13390, 12.12450, 1, (40, 100), 1.5, (
        D("Centrum", "Lilla Edet", "463", 58.1339, 12.1245, 1.20),
    )),
)  # fmt: skip

#: Placement periods: code, ISO year, first ISO week.  Each runs Monday of that
#: week to Friday of the next.
PERIODS = (("w45", 2026, 45), ("w07", 2027, 7), ("w16", 2027, 16))

#: The preference window: pupils ranked offers before the first period.
WINDOW_OPENS = dt.datetime(2026, 9, 14, 5, 0, tzinfo=dt.UTC)
WINDOW_CLOSES = dt.datetime(2026, 10, 9, 21, 59, tzinfo=dt.UTC)
MAX_CHOICES = 8

# --------------------------------------------------------------------------- sectors and offers

#: Share of employers per sector.
SECTOR_SUPPLY = {
    Sector.RETAIL: 12, Sector.HEALTH: 10, Sector.EDUCATION: 10, Sector.HOSPITALITY: 8,
    Sector.CONSTRUCTION: 8, Sector.MANUFACTURING: 7, Sector.OFFICE: 7, Sector.IT: 6,
    Sector.TRANSPORT: 6, Sector.PUBLIC: 6, Sector.VEHICLES: 5, Sector.CULTURE: 4,
    Sector.SPORTS: 4, Sector.AGRICULTURE: 3, Sector.BEAUTY: 3, Sector.SCIENCE: 2,
}  # fmt: skip

#: How much more (or less) likely girls and boys are to rank a sector: (female, male).
#: Pupils of other or unrecorded gender weigh every sector 1.0.
GENDER_FACTORS = {
    Sector.HEALTH: (2.2, 0.6), Sector.EDUCATION: (1.8, 0.7), Sector.BEAUTY: (3.0, 0.25),
    Sector.HOSPITALITY: (1.1, 0.9), Sector.RETAIL: (1.1, 0.9), Sector.OFFICE: (1.1, 0.9),
    Sector.CULTURE: (1.4, 0.7), Sector.CONSTRUCTION: (0.3, 1.8), Sector.VEHICLES: (0.25, 2.6),
    Sector.MANUFACTURING: (0.5, 1.7), Sector.IT: (0.5, 1.9), Sector.TRANSPORT: (0.5, 1.6),
    Sector.SPORTS: (0.8, 1.3), Sector.AGRICULTURE: (1.3, 0.8), Sector.PUBLIC: (1.1, 0.9),
    Sector.SCIENCE: (1.1, 0.9),
}  # fmt: skip

#: Sectors where work-environment rules more often set a minimum age.
AGE_LIMITED = {Sector.CONSTRUCTION, Sector.MANUFACTURING, Sector.VEHICLES, Sector.TRANSPORT, Sector.AGRICULTURE}
#: Sectors where offers more often require Swedish.
LANGUAGE_HEAVY = {Sector.HEALTH, Sector.EDUCATION, Sector.OFFICE, Sector.PUBLIC, Sector.CULTURE}

#: Kinds of employer per sector: a name pattern, the legal form that decides the
#: organisation number's prefix ("a" company 55, "k" public body 21, "f" association 80),
#: and the titles of the offers such an employer posts (see OFFERS).
#: In patterns, {place} is a district or town, {word} the first part of a compound, {name} a noun.
EMPLOYER_KINDS: dict[Sector, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    Sector.HEALTH: (
        ("Vårdcentralen {word}dalen", "k", ("En vecka på vårdcentralen", "Fysioterapi och rehabilitering")),
        ("{place} Tandvård AB", "a", ("Tandvårdsassistent",)),
        ("Äldreboendet {word}gården", "k", ("Vård och omsorg på äldreboende",)),
        ("{surname}s Fysioterapi AB", "a", ("Fysioterapi och rehabilitering",)),
        ("Hemtjänsten {place}", "k", ("Hemtjänst", "Vård och omsorg på äldreboende")),
    ),
    Sector.EDUCATION: (
        ("Förskolan {name}", "k", ("Förskolepraktik",)),
        ("{place} fritidsgård", "k", ("Fritidshem och fritidsgård",)),
        ("Förskolan {word}backen", "k", ("Förskolepraktik",)),
        ("{word}skolans fritidshem", "k", ("Fritidshem och fritidsgård", "Elevassistent i lågstadiet")),
        ("Lek & Lär {place} AB", "a", ("Förskolepraktik", "Fritidshem och fritidsgård")),
    ),
    Sector.RETAIL: (
        ("{surname}s Livs", "a", ("Butiksmedarbetare", "Lager och varumottagning")),
        ("{place} Bokhandel AB", "a", ("Butiksmedarbetare", "Kundservice i butik")),
        ("Blomsterhandeln {name}", "a", ("Butiksmedarbetare", "Kundservice i butik")),
        ("Cykelboden {place}", "a", ("Kundservice i butik", "Lager och varumottagning")),
        ("{place} Järn & Färg AB", "a", ("Butiksmedarbetare", "Lager och varumottagning")),
        ("Second hand-butiken {name}", "f", ("Butiksmedarbetare", "Lager och varumottagning")),
    ),
    Sector.HOSPITALITY: (
        ("Café {name}", "a", ("Bageri och café", "Kök och servering")),
        ("Restaurang {name}", "a", ("Kök och servering",)),
        ("{place} Pizzeria", "a", ("Kök och servering",)),
        ("Hotell {word}viken", "a", ("Hotellreception och städ", "Kök och servering")),
        ("Bageriet {name}", "a", ("Bageri och café",)),
    ),
    Sector.CONSTRUCTION: (
        ("{surname} Bygg AB", "a", ("Snickare på byggarbetsplats",)),
        ("{place} Måleri AB", "a", ("Målare",)),
        ("{surname}s Rör AB", "a", ("VVS och rör",)),
        ("{word} Snickeri AB", "a", ("Snickare på byggarbetsplats",)),
        ("El-Service {place} AB", "a", ("Elektriker",)),
    ),
    Sector.MANUFACTURING: (
        ("{word} Mekaniska AB", "a", ("Verkstad och montering", "Svets och plåt")),
        ("{place} Plåtslageri AB", "a", ("Svets och plåt",)),
        ("{surname} Verkstäder AB", "a", ("Verkstad och montering", "Svets och plåt")),
        ("{word} Trä & Form AB", "a", ("Verkstad och montering",)),
        ("{word} Livsmedel AB", "a", ("Livsmedelsproduktion",)),
    ),
    Sector.IT: (
        ("{word}data AB", "a", ("Webbutveckling", "IT-support")),
        ("{word} Digital AB", "a", ("Webbutveckling",)),
        ("Kodverkstan {place} AB", "a", ("Webbutveckling", "Spelutveckling och grafik")),
        ("{surname} IT-konsult AB", "a", ("IT-support", "Webbutveckling")),
        ("Studio {name} AB", "a", ("Spelutveckling och grafik",)),
    ),
    Sector.TRANSPORT: (
        ("{place} Åkeri AB", "a", ("Följ med i distributionen", "Logistik på terminal")),
        ("{surname}s Transport AB", "a", ("Följ med i distributionen", "Logistik på terminal")),
        ("{word} Logistik AB", "a", ("Logistik på terminal",)),
        ("Budfirman {name}", "a", ("Följ med i distributionen",)),
        ("Bussdepå {place}", "k", ("Kollektivtrafikens vardag",)),
    ),
    Sector.OFFICE: (
        ("{surname} Redovisning AB", "a", ("Ekonomi och redovisning", "Kontor och administration")),
        ("{place} Fastigheter AB", "a", ("Fastighetsförvaltning", "Kontor och administration")),
        ("Byrå {name} AB", "a", ("Kontor och administration",)),
        ("{surname} Juristbyrå AB", "a", ("Kontor och administration",)),
        ("Kontorsservice {place} AB", "a", ("Kontor och administration",)),
    ),
    Sector.CULTURE: (
        ("{place} bibliotek", "k", ("Bibliotek",)),
        ("Teatern {name}", "f", ("Teater och scenteknik",)),
        ("Musikskolan {name}", "k", ("Musikskola och studio",)),
        ("Ateljé {name}", "a", ("Ateljé och bild",)),
        ("Kulturhuset {name}", "k", ("Bibliotek", "Teater och scenteknik")),
    ),
    Sector.PUBLIC: (
        ("Räddningstjänsten {place}", "k", ("Räddningstjänst",)),
        ("Kommunservice {place}", "k", ("Parkförvaltning", "Medborgarservice")),
        ("Parkförvaltningen {place}", "k", ("Parkförvaltning",)),
        ("Medborgarkontoret {place}", "k", ("Medborgarservice",)),
        ("Återbruket {name}", "k", ("Återbruk och kretslopp",)),
    ),
    Sector.AGRICULTURE: (
        ("{word}gårdens Lantbruk", "a", ("Lantbruk med djur",)),
        ("{place} Ridklubb", "f", ("Stall och ridskola",)),
        ("Stall {name}", "a", ("Stall och ridskola",)),
        ("Handelsträdgården {name}", "a", ("Trädgård och plantskola",)),
        ("Djurkliniken {place} AB", "a", ("Djurklinik",)),
    ),
    Sector.VEHICLES: (
        ("{surname}s Bilverkstad AB", "a", ("Bilmekaniker", "Däck och hjulservice")),
        ("{place} Däckservice AB", "a", ("Däck och hjulservice",)),
        ("{word} Motor AB", "a", ("Bilmekaniker",)),
        ("Lackverkstaden {place} AB", "a", ("Lack och kaross",)),
        ("{word} Båt & Motor AB", "a", ("Båtvarv och motor",)),
    ),
    Sector.BEAUTY: (
        ("Salong {name}", "a", ("Frisörsalong", "Hudvård och makeup")),
        ("Frisör {first}", "a", ("Frisörsalong",)),
        ("{word} Hudvård", "a", ("Hudvård och makeup",)),
        ("Nagelstudion {name}", "a", ("Nagelstudio",)),
        ("Barber {place}", "a", ("Frisörsalong",)),
    ),
    Sector.SPORTS: (
        ("{place} IF", "f", ("Idrottsförening",)),
        ("{word} Gym AB", "a", ("Gym och friskvård",)),
        ("Simhallen {place}", "k", ("Simhall",)),
        ("{place} Bollklubb", "f", ("Idrottsförening",)),
        ("Klätterhallen {name}", "a", ("Klätterhall",)),
    ),
    Sector.SCIENCE: (
        ("{word} Laboratorier AB", "a", ("Laboratoriearbete",)),
        ("Miljölabbet {place} AB", "a", ("Laboratoriearbete", "Miljö och natur")),
        ("{word} Biotech AB", "a", ("Forskningslabb",)),
        ("Vattenlab {place}", "k", ("Laboratoriearbete", "Miljö och natur")),
    ),
}
ORG_PREFIX = {"a": "55", "k": "21", "f": "80"}

#: Offer titles and their descriptions.
OFFERS = {
    "Vård och omsorg på äldreboende": "Du är med undersköterskorna under dagen: hjälper till vid måltider, "
    "följer med på promenader och håller i aktiviteter med de boende.",
    "En vecka på vårdcentralen": "Du följer sjuksköterskor och receptionen och ser hur en vårdcentral tar emot "
    "patienter.",
    "Tandvårdsassistent": "Du förbereder behandlingsrum, sköter steriliseringen av instrument och ser hur "
    "tandläkaren arbetar.",
    "Fysioterapi och rehabilitering": "Du hjälper till i träningssalen och lär dig hur fysioterapeuter hjälper "
    "patienter tillbaka efter skador.",
    "Hemtjänst": "Du följer med hemtjänstens personal till äldre som bor hemma och hjälper till med inköp och "
    "promenader.",
    "Förskolepraktik": "Du leker, läser och går på utflykter med barnen tillsammans med förskollärarna.",
    "Fritidshem och fritidsgård": "Du planerar och leder aktiviteter för yngre barn efter skoltid.",
    "Elevassistent i lågstadiet": "Du stöttar lärarna i klassrummet och hjälper eleverna med läsning och matte.",
    "Butiksmedarbetare": "Du fyller på varor, hjälper kunder tillrätta och får prova på kassan med handledare.",
    "Lager och varumottagning": "Du tar emot leveranser, prismärker och håller ordning på lagret.",
    "Kundservice i butik": "Du lär dig bemöta kunder, ge råd om sortimentet och exponera varor.",
    "Kök och servering": "Du förbereder sallader, diskar och serverar lunchgäster tillsammans med kockarna.",
    "Bageri och café": "Du bakar bröd och bullar på morgonen och står i kassan under förmiddagen.",
    "Hotellreception och städ": "Du checkar in gäster med receptionisten och ser hur rummen görs i ordning.",
    "Snickare på byggarbetsplats": "Du följer ett arbetslag som bygger om ett flerbostadshus. Skyddskläder och "
    "hjälm lånas ut.",
    "Målare": "Du spacklar, slipar och målar tillsammans med en målare i bostäder och lokaler.",
    "Elektriker": "Du följer en elektriker på servicejobb och lär dig om säkerhet kring el.",
    "VVS och rör": "Du följer rörmokare på uppdrag i kök och badrum.",
    "Verkstad och montering": "Du monterar komponenter och lär dig hur kvaliteten kontrolleras i produktionen.",
    "Svets och plåt": "Du ser hur plåtdetaljer skärs, bockas och svetsas. Du arbetar alltid med handledare.",
    "Livsmedelsproduktion": "Du packar och märker produkter och lär dig om hygien i livsmedelsindustrin.",
    "Webbutveckling": "Du bygger en enkel webbsida med utvecklarna och är med på teamets morgonmöten.",
    "IT-support": "Du hjälper till att installera datorer och svarar på frågor från användare.",
    "Spelutveckling och grafik": "Du testar spel, rapporterar buggar och provar på att rita grafik.",
    "Logistik på terminal": "Du är med när gods tas emot, sorteras och lastas till rätt bil.",
    "Följ med i distributionen": "Du åker med en chaufför på leveranser och hjälper till med lastning.",
    "Kollektivtrafikens vardag": "Du ser hur trafikledningen planerar och följer bussar och spårvagnar.",
    "Kontor och administration": "Du sorterar post, arkiverar och hjälper till med enklare uppgifter i kalkylblad.",
    "Ekonomi och redovisning": "Du ser hur fakturor och kvitton hanteras och provar bokföring i ett övningsföretag.",
    "Fastighetsförvaltning": "Du följer förvaltare och fastighetsskötare på visningar och ronder.",
    "Bibliotek": "Du ställer upp böcker, hjälper besökare och är med på sagostunder för barn.",
    "Teater och scenteknik": "Du är med bakom scenen: ljus, ljud, kulisser och rekvisita.",
    "Musikskola och studio": "Du hjälper till vid lektioner och ser hur en inspelning går till.",
    "Ateljé och bild": "Du provar på att måla och trycka och hjälper till inför en utställning.",
    "Parkförvaltning": "Du planterar, rensar och sköter parker och lekplatser med parkarbetarna.",
    "Räddningstjänst": "Du följer brandmännens dag med övningar, fordonskontroll och information om brandskydd.",
    "Medborgarservice": "Du möter invånare som har frågor till kommunen och lär dig hur ärenden hanteras.",
    "Återbruk och kretslopp": "Du tar emot, sorterar och säljer saker som får ett nytt liv.",
    "Stall och ridskola": "Du mockar, sköter hästar och hjälper till vid ridlektioner.",
    "Lantbruk med djur": "Du utfodrar djur, följer med på mjölkningen och hjälper till på gården.",
    "Trädgård och plantskola": "Du sår, planterar om och sköter plantor i växthuset.",
    "Djurklinik": "Du ser hur djursjukskötare tar emot djur och hjälper till med rengöring och foder.",
    "Bilmekaniker": "Du hjälper mekanikerna med service, däckbyten och felsökning.",
    "Däck och hjulservice": "Du lär dig byta och balansera däck tillsammans med verkstadens personal.",
    "Lack och kaross": "Du ser hur skador lagas och bilar lackeras. Skyddsutrustning finns på plats.",
    "Båtvarv och motor": "Du hjälper till att serva båtmotorer och göra i ordning båtar inför vintern.",
    "Frisörsalong": "Du tvättar hår, håller ordning i salongen och följer frisörerna i arbetet.",
    "Hudvård och makeup": "Du lär dig om hudvård och ser hur behandlingar går till.",
    "Nagelstudio": "Du hjälper till i receptionen och ser hur nagelterapeuter arbetar.",
    "Idrottsförening": "Du hjälper ledarna på träningar för yngre barn och med arrangemang i klubbstugan.",
    "Gym och friskvård": "Du är med i receptionen, gör i ordning träningsytor och följer en personlig tränare.",
    "Simhall": "Du följer badvärdarna och hjälper till vid simskolan.",
    "Klätterhall": "Du hjälper till i receptionen, kontrollerar utrustning och följer instruktörerna.",
    "Laboratoriearbete": "Du följer laboratorieingenjörer som analyserar vatten- och jordprover.",
    "Miljö och natur": "Du är med när miljöinspektörer tar prover i bäckar och sjöar.",
    "Forskningslabb": "Du ser hur forskare arbetar med experiment och gör enklare försök själv.",
}
PRACTICALITIES = (
    "Arbetstid kl. 8–15.",
    "Arbetstid kl. 9–15, lunch ingår.",
    "Ta med egen lunch; det finns mikrovågsugn.",
    "Arbetskläder lånas ut på plats.",
    "Bekväma skor behövs.",
    "Hållplatsen ligger fem minuters promenad bort.",
    "Vi möts i receptionen första dagen kl. 8.30.",
)
SECTOR_LABELS = {
    Sector.HEALTH: "vård och hälsa", Sector.EDUCATION: "förskola och skola", Sector.RETAIL: "handel",
    Sector.HOSPITALITY: "hotell och restaurang", Sector.CONSTRUCTION: "bygg", Sector.MANUFACTURING: "industri",
    Sector.IT: "IT", Sector.TRANSPORT: "transport och logistik", Sector.OFFICE: "kontor och administration",
    Sector.CULTURE: "kultur", Sector.PUBLIC: "offentlig verksamhet", Sector.AGRICULTURE: "djur och natur",
    Sector.VEHICLES: "fordon", Sector.BEAUTY: "frisör och skönhet", Sector.SPORTS: "idrott och friskvård",
    Sector.SCIENCE: "naturvetenskap",
}  # fmt: skip

# --------------------------------------------------------------------------- words and names

WORDS = (
    "Björk", "Ek", "Lind", "Rönn", "Asp", "Hassel", "Lönn", "Alm", "Gran", "Tall", "Ljung", "Sjö", "Berg",
    "Strand", "Sol", "Lärk", "Kvarn", "Mosse", "Källe", "Bäck", "Hamn", "Sten", "Skog", "Klöver",
)  # fmt: skip
NOUNS = (
    "Linden", "Eken", "Björken", "Svalan", "Lärkan", "Måsen", "Fyren", "Kvarnen", "Solrosen", "Vågen", "Ankaret",
    "Kompassen", "Bryggan", "Udden", "Kastanjen", "Stjärnan", "Ljuset", "Näckrosen", "Tranan", "Uttern",
    "Ekorren", "Rödhaken",
)  # fmt: skip
SCHOOL_ENDINGS = ("backa", "dals", "ås", "ängs", "lids", "heds", "viks", "kulla", "lunds", "torps", "högs")
STREET_STEMS = (*WORDS, "Smedje", "Skeppar", "Fiskar", "Tegel", "Bruks", "Mejeri", "Verkstads", "Skol", "Post")
STREET_ENDINGS = ("gatan", "vägen", "stigen", "gången", "backen", "leden", "allén")

SWEDISH_FEMALE = (
    "Alva", "Astrid", "Ebba", "Elsa", "Ella", "Ellen", "Freja", "Ida", "Ines", "Julia", "Klara", "Lilly", "Linnea",
    "Maja", "Matilda", "Moa", "Nora", "Olivia", "Saga", "Selma", "Signe", "Stella", "Tilda", "Vera", "Wilma",
    "Agnes", "Alice", "Elvira", "Hanna", "Isabelle", "Tuva", "Vilda",
)  # fmt: skip
SWEDISH_MALE = (
    "Adam", "Albin", "Alfred", "Anton", "Arvid", "Axel", "Carl", "Casper", "Elias", "Emil", "Erik", "Filip",
    "Gustav", "Hugo", "Isak", "Jack", "Kevin", "Leo", "Liam", "Loke", "Lucas", "Melvin", "Nils", "Noah", "Oliver",
    "Oscar", "Sixten", "Theo", "Vincent", "Viggo", "Wilhelm", "Ture",
)  # fmt: skip
NEUTRAL = ("Alex", "Charlie", "Kim", "Love", "Noa", "Robin", "Sam", "Vide", "Eli", "Mika")
SWEDISH_SURNAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
    "Gustafsson", "Pettersson", "Jonsson", "Hansson", "Bengtsson", "Lindberg", "Lindström", "Lindqvist", "Lindgren",
    "Berg", "Bergström", "Holm", "Sandberg", "Lundgren", "Forsberg", "Sjöberg", "Wallin", "Engström", "Ek", "Dahl",
    "Hedlund", "Blom", "Strand", "Sundberg", "Åberg", "Nyström", "Björk", "Falk", "Ekström", "Hellström", "Lund",
    "Lindholm", "Axelsson", "Magnusson", "Fransson", "Claesson", "Ahlgren", "Wikström",
)  # fmt: skip
ADULT_FEMALE = (
    "Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Kristina", "Emma", "Malin", "Jenny", "Sofia", "Helena",
    "Camilla", "Linda", "Petra", "Johanna", "Ulrika", "Annika", "Therese", "Frida", "Leila", "Amina", "Mirjam",
)  # fmt: skip
ADULT_MALE = (
    "Lars", "Anders", "Johan", "Per", "Mikael", "Magnus", "Fredrik", "Daniel", "Peter", "Jonas", "Mattias",
    "Stefan", "Niklas", "Henrik", "Tobias", "Martin", "Patrik", "Andreas", "Marcus", "Jesper", "Reza", "Tarik",
)  # fmt: skip


@dataclass(frozen=True)
class Origin:
    """A name tradition: first names by gender, surnames, and the home language tag."""

    language: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]


ORIGINS = (
    Origin("arabic", ("Amira", "Aya", "Fatima", "Hiba", "Layla", "Maryam", "Nour", "Rana", "Salma", "Yasmin"),
           ("Ahmad", "Ali", "Hassan", "Ibrahim", "Karim", "Mohammed", "Omar", "Yousef", "Zakaria", "Adnan"),
           ("Abdullah", "Al-Hassan", "Haddad", "Hamdan", "Ibrahim", "Khalil", "Mansour", "Nasser", "Saleh")),
    Origin("somali", ("Hodan", "Ifrah", "Nasra", "Sagal", "Hamdi", "Ayan"),
           ("Abdirahman", "Mahad", "Liban", "Yusuf", "Abdi", "Mustafe"),
           ("Abdi", "Hirsi", "Jama", "Mohamud", "Warsame", "Osman")),
    Origin("persian", ("Darya", "Parisa", "Shirin", "Yasna", "Niloufar", "Sara"),
           ("Arash", "Dariush", "Kian", "Reza", "Navid", "Omid"),
           ("Ahmadi", "Hosseini", "Karimi", "Moradi", "Rahimi", "Rezaei", "Sadeghi")),
    Origin("bosnian", ("Amina", "Lejla", "Ajla", "Emina", "Mia"), ("Adis", "Amar", "Emir", "Haris", "Tarik"),
           ("Begić", "Hodžić", "Kovačević", "Mehmedović", "Hasanović", "Jović")),
    Origin("finnish", ("Aino", "Emilia", "Helmi", "Iida", "Siiri"), ("Eino", "Onni", "Väinö", "Aleksi", "Juho"),
           ("Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Heikkinen", "Laine")),
    Origin("polish", ("Zofia", "Zuzanna", "Natalia", "Hanna"), ("Jakub", "Kacper", "Szymon", "Antoni"),
           ("Nowak", "Kowalski", "Wiśniewska", "Zieliński", "Wójcik")),
    Origin("turkish", ("Elif", "Zeynep", "Berfin", "Dilan"), ("Emre", "Deniz", "Baran", "Kerem"),
           ("Yılmaz", "Demir", "Kaya", "Aslan", "Doğan", "Çelik")),
    Origin("tigrinya", ("Senait", "Helen", "Saba", "Selam", "Winta"), ("Yonas", "Daniel", "Robel", "Samuel"),
           ("Tesfay", "Gebremariam", "Haile", "Kidane", "Berhane", "Tekle")),
    Origin("spanish", ("Valentina", "Camila", "Isabella", "Sofía"), ("Mateo", "Santiago", "Diego", "Tomás"),
           ("González", "Rodríguez", "Muñoz", "Rojas", "Silva", "Castillo")),
)  # fmt: skip

#: Phone numbers PTS reserves for fiction: 070-174 06 05 to 99, 031-390 06 00 to 99.
MOBILE_FICTION = range(5, 100)
GOTHENBURG_FICTION = range(100)

# --------------------------------------------------------------------------- the model of choice

EMPLOYERS = 600  # catalogue employers at scale 1
PENDING_SHARE = 0.03  # employers waiting for the coordinator's approval
SELF_ARRANGED_SHARE = 0.025  # pupils with a placement they found themselves
NO_CHOICES_SHARE = 0.05  # pupils who ranked nothing
CHOICE_COUNT_WEIGHTS = (2, 3, 5, 7, 10, 12, 14, 47)  # for 1..8 choices
ZIPF_EXPONENT = 0.9  # popularity of the offer ranked r among all offers: r ** -ZIPF_EXPONENT
DISTANCE_DECAY_KM = 5.0  # weight exp(-d / DISTANCE_DECAY_KM) by distance from the pupil's school
MAX_CHOICE_KM = 40.0  # nobody ranks an offer farther away than this
INTEREST_BOOST = 4.0  # a pupil's one or two favourite sectors weigh this much more


@dataclass(frozen=True)
class _Period:
    code: str
    start: dt.date


@dataclass
class _School:
    code: str
    municipality: Municipality
    district: District
    lat: float
    lon: float
    need: float
    record: dict[str, Any]
    #: (class name, period, pupils)
    classes: list[tuple[str, _Period, int]]
    distances: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Offer:
    """What preferences need to know of a visible catalogue offer."""

    code: str
    sector: Sector
    lat: float
    lon: float
    periods: frozenset[str]
    min_age: int | None
    requires_swedish: bool
    schools: frozenset[str]
    popularity: float


@dataclass(frozen=True)
class _Pool:
    """The offers one group of pupils may rank, by sector, with cumulative weights."""

    sectors: tuple[Sector, ...]
    totals: tuple[float, ...]
    offers: dict[Sector, tuple[list[str], list[float]]]
    size: int


def generate_region(seed: int = DEFAULT_SEED, *, scale: float = 1.0) -> dict[str, Any]:
    """The demo region for ``seed`` as a JSON-ready dict.

    ``scale`` shrinks the region for quick tests: it multiplies the number of
    schools per municipality (at least one each) and of employers.
    """
    return _Builder(random.Random(seed), seed, scale).build()


def render(region: dict[str, Any]) -> bytes:
    """The region as UTF-8 JSON with one record per line (readable, diffable, compact)."""
    lines = ["{"]
    for i, (key, value) in enumerate(region.items()):
        comma = "," if i < len(region) - 1 else ""
        if isinstance(value, list):
            lines.append(f"  {_compact(key)}: [")
            lines.extend(f"    {_compact(item)}{',' if j < len(value) - 1 else ''}" for j, item in enumerate(value))
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {_compact(key)}: {_compact(value)}{comma}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode()


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Builder:
    def __init__(self, rng: random.Random, seed: int, scale: float) -> None:
        self.rng = rng
        self.seed = seed
        self.scale = scale
        self.periods = [_Period(code, dt.date.fromisocalendar(year, week, 1)) for code, year, week in PERIODS]
        self.schools: list[_School] = []
        self.employers: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.visible: list[_Offer] = []
        self.taken_slugs: set[str] = set()
        self.org_numbers: set[str] = set()
        self.offer_codes = (f"O{n:04d}" for n in itertools.count(1))
        self.pools: dict[tuple[str, str, int, bool], _Pool] = {}

    def build(self) -> dict[str, Any]:
        coordinator = {
            "role": "coordinator",
            "email": "samordnare@demo.praktik.se",
            "display_name": f"{self._adult_name()} (samordnare)",
        }
        self.users.append(coordinator)
        self._make_schools()
        self._make_catalogue()
        pupils = self._make_pupils()
        return {
            "format": FORMAT,
            "name": "Demoregion Göteborgsregionen",
            "seed": self.seed,
            "municipalities": [{"code": m.code, "name": m.name, "lat": m.lat, "lon": m.lon} for m in MUNICIPALITIES],
            "periods": [
                {
                    "code": p.code,
                    "name": f"Vecka {p.start.isocalendar().week}–{p.start.isocalendar().week + 1} {p.start.year}",
                    "start": p.start.isoformat(),
                    "end": (p.start + dt.timedelta(days=11)).isoformat(),
                }
                for p in self.periods
            ],
            "preference_window": {
                "name": "Val av praoplatser åk 8 2026/27",
                "opens_at": _iso(WINDOW_OPENS),
                "closes_at": _iso(WINDOW_CLOSES),
                "max_choices": MAX_CHOICES,
            },
            "schools": [s.record for s in self.schools],
            "employers": self.employers,
            "pupils": pupils,
            "users": self.users,
            "demo_logins": self._demo_logins(pupils),
        }

    # ------------------------------------------------------------------ schools

    def _make_schools(self) -> None:
        for municipality in MUNICIPALITIES:
            count = max(1, round(municipality.schools * self.scale))
            for district in municipality.districts[:count]:
                self._make_school(municipality, district)

    def _make_school(self, municipality: Municipality, district: District) -> None:
        rng = self.rng
        code = f"S{len(self.schools) + 1:02d}"
        while True:
            name = f"{rng.choice(WORDS)}{rng.choice(SCHOOL_ENDINGS)}skolan"
            if self._claim(name):
                break
        lat, lon = self._near(district, 0.004)
        need = round(min(1.8, max(0.6, district.need + rng.gauss(0, 0.08))), 2)
        pupils = rng.randint(*municipality.pupils)
        n_classes = math.ceil(pupils / 30)
        offset = rng.randrange(len(self.periods))
        classes = [
            (f"8{chr(ord('A') + i)}", self.periods[(offset + i) % len(self.periods)], size)
            for i, size in enumerate(_split(pupils, n_classes))
        ]
        record = {
            "code": code,
            "name": name,
            "municipality": municipality.code,
            "address": self._address(district),
            "lat": lat,
            "lon": lon,
            "need_index": need,
            "classes": [{"name": c, "period": p.code} for c, p, _ in classes],
        }
        self.schools.append(_School(code, municipality, district, lat, lon, need, record, classes))
        self.users.append(
            {
                "role": "school_staff",
                "email": f"syv@{_slug(name)}.demo.praktik.se",
                "display_name": f"{self._adult_name()} (SYV)",
                "school": code,
            }
        )

    # ------------------------------------------------------------------ employers and offers

    def _make_catalogue(self) -> None:
        rng = self.rng
        weights = [m.employer_weight for m in MUNICIPALITIES]
        sectors = list(SECTOR_SUPPLY)
        supply = list(SECTOR_SUPPLY.values())
        visible: list[_Offer] = []
        for _ in range(round(EMPLOYERS * self.scale)):
            municipality = rng.choices(MUNICIPALITIES, weights=weights)[0]
            district = rng.choices(
                municipality.districts, weights=[3 if d.name == "Centrum" else 1 for d in municipality.districts]
            )[0]
            sector = rng.choices(sectors, weights=supply)[0]
            pending = rng.random() < PENDING_SHARE
            employer, titles = self._employer(municipality, district, sector, pending=pending, spread=0.008)
            for title in rng.sample(titles, 1 if rng.random() < 0.4 else len(titles)):
                offer = self._catalogue_offer(employer, sector, title, pending)
                if offer is not None:
                    visible.append(offer)
        # Popularity is Zipf-like over a random order of the visible offers.
        ranks = list(range(1, len(visible) + 1))
        rng.shuffle(ranks)
        self.visible = [
            dataclasses.replace(offer, popularity=rank**-ZIPF_EXPONENT)
            for offer, rank in zip(visible, ranks, strict=True)
        ]

    def _employer(
        self, municipality: Municipality, district: District, sector: Sector, *, pending: bool, spread: float
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """A new employer with its workplace and contact, and the titles of offers it may post."""
        rng = self.rng
        place = municipality.name if district.name == "Centrum" else district.name
        while True:
            pattern, form, titles = rng.choice(EMPLOYER_KINDS[sector])
            name = pattern.format(
                place=place,
                word=rng.choice(WORDS),
                name=rng.choice(NOUNS),
                surname=rng.choice(SWEDISH_SURNAMES),
                first=rng.choice(ADULT_FEMALE + ADULT_MALE),
            )
            if self._claim(name):
                break
        domain = f"{_slug(name)}.example.se"
        first, last = self._adult_name().split(" ", 1)
        contact_email = f"{_slug(first)}.{_slug(last)}@{domain}"
        code = f"E{len(self.employers) + 1:04d}"
        lat, lon = self._near(district, spread)
        employer: dict[str, Any] = {
            "code": code,
            "name": name,
            "org_number": self._org_number(ORG_PREFIX[form]),
            "municipality": municipality.code,
            "status": "pending" if pending else "approved",
            "reviewed_at": None if pending else _iso(self._moment(dt.date(2026, 8, 17), 40)),
            "phone": self._landline(),
            "email": f"info@{domain}",
            "workplace": {"name": name, "address": self._address(district), "lat": lat, "lon": lon},
            "contact": {"name": f"{first} {last}", "email": contact_email, "phone": self._mobile()},
            "offers": [],
        }
        self.employers.append(employer)
        self.users.append(
            {"role": "employer_contact", "email": contact_email, "display_name": f"{first} {last}", "employer": code}
        )
        return employer, titles

    def _catalogue_offer(self, employer: dict[str, Any], sector: Sector, title: str, pending: bool) -> _Offer | None:
        """Add an offer to ``employer``; return it if pupils can see and rank it (popularity still unset)."""
        rng = self.rng
        codes = [p.code for p in self.periods]
        periods = codes if rng.random() < 0.9 else sorted(rng.sample(codes, rng.randint(1, 2)), key=codes.index)
        places = rng.choices((1, 2, 3, 4), weights=(5, 15, 35, 45))[0]
        if sector in AGE_LIMITED:
            min_age = rng.choices((None, 15, 16), weights=(70, 18, 12))[0]
        else:
            min_age = rng.choices((None, 15, 16), weights=(93, 5, 2))[0]
        requires_swedish = rng.random() < (0.15 if sector in LANGUAGE_HEAVY else 0.03)
        workplace = employer["workplace"]
        schools: list[str] = []
        if rng.random() < 0.04:
            nearest = sorted(self.schools, key=lambda s: _km(s.lat, s.lon, workplace["lat"], workplace["lon"]))
            schools = sorted(s.code for s in nearest[: rng.randint(1, 3)])
        risk_assessed = rng.random() < 0.9
        supervisor = employer["contact"] if not employer["offers"] else self._person(employer["email"])
        offer: dict[str, Any] = {
            "code": next(self.offer_codes),
            "kind": "catalogue",
            "title": title,
            "description": f"{OFFERS[title]} {' '.join(rng.sample(PRACTICALITIES, rng.randint(1, 2)))}",
            "sector": sector.value,
            "min_age": min_age,
            "requirements": ["swedish"] if requires_swedish else [],
            "supervisor": supervisor,
            "risk_assessment_confirmed_at": _iso(self._moment(dt.date(2026, 8, 24), 40)) if risk_assessed else None,
            "capacity": dict.fromkeys(periods, places),
            "schools": schools,
        }
        employer["offers"].append(offer)
        if pending or not risk_assessed:
            return None
        return _Offer(
            code=offer["code"],
            sector=sector,
            lat=workplace["lat"],
            lon=workplace["lon"],
            periods=frozenset(periods),
            min_age=min_age,
            requires_swedish=requires_swedish,
            schools=frozenset(schools),
            popularity=0.0,
        )

    def _self_arranged(self, school: _School, period: _Period, gender: str | None) -> str:
        """A placement a pupil found: its own employer and a one-place offer in the pupil's period."""
        rng = self.rng
        sectors = list(GENDER_FACTORS)
        sector = rng.choices(sectors, weights=[_factor(s, gender) for s in sectors])[0]
        employer, _ = self._employer(school.municipality, school.district, sector, pending=False, spread=0.02)
        code = next(self.offer_codes)
        employer["offers"].append(
            {
                "code": code,
                "kind": "self_arranged",
                "title": f"Egen praoplats: {SECTOR_LABELS[sector]}",
                "description": "En plats som eleven har ordnat själv och skolan har godkänt.",
                "sector": sector.value,
                "min_age": None,
                "requirements": [],
                "supervisor": employer["contact"],
                "risk_assessment_confirmed_at": _iso(self._moment(dt.date(2026, 9, 1), 30)),
                "capacity": {period.code: 1},
                "schools": [],
            }
        )
        return code

    # ------------------------------------------------------------------ pupils and preferences

    def _make_pupils(self) -> list[dict[str, Any]]:
        rng = self.rng
        pupils: list[dict[str, Any]] = []
        for school in self.schools:
            for class_name, period, size in school.classes:
                for _ in range(size):
                    gender = rng.choices(("female", "male", "other", None), weights=(49, 49, 1.2, 0.8))[0]
                    first, last, language = self._pupil_name(gender, school.need)
                    attributes = [
                        tag
                        for tag, chance in (("swedish", 0.99 if language is None else 0.85), ("english", 0.75))
                        if rng.random() < chance
                    ]
                    if language is not None and rng.random() < 0.6:
                        attributes.append(language)
                    born = rng.choices((2011, 2012, 2013), weights=(3, 96, 1))[0], rng.randint(1, 12)
                    self_arranged = None
                    preferences: list[str] = []
                    if rng.random() < SELF_ARRANGED_SHARE:
                        self_arranged = self._self_arranged(school, period, gender)
                    elif rng.random() >= NO_CHOICES_SHARE:
                        count = rng.choices(range(1, MAX_CHOICES + 1), weights=CHOICE_COUNT_WEIGHTS)[0]
                        age = _age_on(period.start, *born)
                        pool = self._pool(school, period, age, "swedish" in attributes)
                        preferences = self._rank(pool, gender, count)
                    pupils.append(
                        {
                            "id": f"P{len(pupils) + 1:06d}",
                            "school": school.code,
                            "class": class_name,
                            "first_name": first,
                            "last_name": last,
                            "gender": gender,
                            "birth_year": born[0],
                            "birth_month": born[1],
                            "attributes": attributes,
                            "preferences": preferences,
                            "self_arranged": self_arranged,
                        }
                    )
        return pupils

    def _pupil_name(self, gender: str | None, need: float) -> tuple[str, str, str | None]:
        """First name, last name, and the home language of the name's tradition (None for Swedish)."""
        rng = self.rng
        origin = rng.choice(ORIGINS) if rng.random() < min(0.7, max(0.06, (need - 0.55) * 0.55)) else None
        female, male = (origin.female, origin.male) if origin else (SWEDISH_FEMALE, SWEDISH_MALE)
        if gender == Gender.FEMALE:
            first = rng.choice(female)
        elif gender == Gender.MALE:
            first = rng.choice(male)
        else:
            first = rng.choice(NEUTRAL + female + male)
        surnames = origin.surnames if origin and rng.random() < 0.85 else SWEDISH_SURNAMES
        return first, rng.choice(surnames), origin.language if origin else None

    def _pool(self, school: _School, period: _Period, age: int, swedish: bool) -> _Pool:
        key = (school.code, period.code, age, swedish)
        if key not in self.pools:
            by_sector: dict[Sector, tuple[list[str], list[float]]] = {}
            for offer in self.visible:
                if (
                    period.code not in offer.periods
                    or (offer.min_age is not None and age < offer.min_age)
                    or (offer.requires_swedish and not swedish)
                    or (offer.schools and school.code not in offer.schools)
                ):
                    continue
                if offer.code not in school.distances:
                    school.distances[offer.code] = _km(school.lat, school.lon, offer.lat, offer.lon)
                km = school.distances[offer.code]
                if km > MAX_CHOICE_KM:
                    continue
                codes, cumulative = by_sector.setdefault(offer.sector, ([], []))
                codes.append(offer.code)
                cumulative.append(
                    (cumulative[-1] if cumulative else 0.0) + offer.popularity * math.exp(-km / DISTANCE_DECAY_KM)
                )
            sectors = tuple(by_sector)
            self.pools[key] = _Pool(
                sectors=sectors,
                totals=tuple(by_sector[s][1][-1] for s in sectors),
                offers=by_sector,
                size=sum(len(codes) for codes, _ in by_sector.values()),
            )
        return self.pools[key]

    def _rank(self, pool: _Pool, gender: str | None, count: int) -> list[str]:
        """Up to ``count`` distinct offers, best first: popular, near, and in sectors the pupil likes."""
        rng = self.rng
        every = list(GENDER_FACTORS)
        interests = set(rng.choices(every, weights=[_factor(s, gender) for s in every], k=2))
        weights = list(
            itertools.accumulate(
                total * _factor(sector, gender) * (INTEREST_BOOST if sector in interests else 1.0)
                for sector, total in zip(pool.sectors, pool.totals, strict=True)
            )
        )
        wanted = min(count, pool.size)
        chosen: list[str] = []
        for _ in range(50 * wanted):
            if len(chosen) == wanted:
                break
            codes, cumulative = pool.offers[rng.choices(pool.sectors, cum_weights=weights)[0]]
            code = codes[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
            if code not in chosen:
                chosen.append(code)
        return chosen

    # ------------------------------------------------------------------ demo logins

    def _demo_logins(self, pupils: list[dict[str, Any]]) -> list[dict[str, str]]:
        staff = next(u for u in self.users if u["role"] == "school_staff")
        employer = next(
            e
            for e in self.employers
            if e["status"] == "approved" and any(o["risk_assessment_confirmed_at"] for o in e["offers"])
        )
        pupil = next(p for p in pupils if len(p["preferences"]) >= 3)
        return [
            {"role": "coordinator", "login": "samordnare@demo.praktik.se", "secret": "demo-samordnare-2026"},
            {"role": "school_staff", "login": staff["email"], "secret": "demo-skola-2026"},
            {"role": "employer_contact", "login": employer["contact"]["email"], "secret": "demo-arbetsgivare-2026"},
            {"role": "pupil", "login": pupil["id"], "secret": "ELEV-DEMO-2026"},
        ]

    # ------------------------------------------------------------------ small helpers

    def _claim(self, name: str) -> bool:
        """Reserve ``name`` (and the domain made from it) if no earlier name has its slug."""
        if _slug(name) in self.taken_slugs:
            return False
        self.taken_slugs.add(_slug(name))
        return True

    def _near(self, district: District, spread: float) -> tuple[float, float]:
        """Coordinates scattered around the district centre (``spread`` in degrees of latitude)."""
        lat = district.lat + self.rng.gauss(0, spread)
        lon = district.lon + self.rng.gauss(0, spread * 1.87)  # a degree of longitude is shorter here
        return round(lat, 5), round(lon, 5)

    def _address(self, district: District) -> str:
        rng = self.rng
        street = f"{rng.choice(STREET_STEMS)}{rng.choice(STREET_ENDINGS)}"
        return f"{street} {rng.randint(1, 60)}, {district.zip3} {rng.randint(10, 99)} {district.town}"

    def _adult_name(self) -> str:
        return f"{self.rng.choice(ADULT_FEMALE + ADULT_MALE)} {self.rng.choice(SWEDISH_SURNAMES)}"

    def _person(self, employer_email: str) -> dict[str, str]:
        name = self._adult_name()
        first, last = name.split(" ", 1)
        domain = employer_email.split("@")[1]
        return {"name": name, "email": f"{_slug(first)}.{_slug(last)}@{domain}", "phone": self._mobile()}

    def _mobile(self) -> str:
        return f"070-174 06 {self.rng.choice(MOBILE_FICTION):02d}"

    def _landline(self) -> str:
        return f"031-390 06 {self.rng.choice(GOTHENBURG_FICTION):02d}"

    def _org_number(self, prefix: str) -> str:
        while True:
            body = prefix + "".join(str(self.rng.randrange(10)) for _ in range(9 - len(prefix)))
            number = f"{body[:6]}-{body[6:]}{luhn_digit(body)}"
            if number not in self.org_numbers:
                self.org_numbers.add(number)
                return number

    def _moment(self, first_day: dt.date, days: int) -> dt.datetime:
        """A working-hours moment (UTC) within ``days`` days from ``first_day``."""
        day = first_day + dt.timedelta(days=self.rng.randrange(days))
        return dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.UTC) + dt.timedelta(
            minutes=self.rng.randrange(9 * 60)
        )


def luhn_digit(digits: str) -> int:
    """The Luhn check digit of ``digits`` (the tenth digit of a Swedish organisation number)."""
    total = 0
    for i, char in enumerate(digits):
        product = int(char) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` sizes differing by at most one."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _age_on(day: dt.date, birth_year: int, birth_month: int) -> int:
    """Whole years on ``day``, counting a birthday in ``day``'s month as not yet reached (as Pupil.age_on)."""
    return day.year - birth_year - (1 if day.month <= birth_month else 0)


def _factor(sector: Sector, gender: str | None) -> float:
    female, male = GENDER_FACTORS[sector]
    if gender == Gender.FEMALE:
        return female
    if gender == Gender.MALE:
        return male
    return 1.0


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (haversine; close enough for choosing)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _slug(text: str) -> str:
    """``text`` as a lowercase ASCII domain label: "Björk Bygg AB" -> "bjork-bygg-ab"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(region: dict[str, Any]) -> list[str]:
    """Counts and per-period supply and demand, for the person regenerating the data."""
    pupils = region["pupils"]
    offers = [o for e in region["employers"] for o in e["offers"]]
    class_period = {(s["code"], c["name"]): c["period"] for s in region["schools"] for c in s["classes"]}
    demand = Counter(class_period[p["school"], p["class"]] for p in pupils)
    supply: Counter[str] = Counter()
    approved = {o["code"] for e in region["employers"] if e["status"] == "approved" for o in e["offers"]}
    for offer in offers:
        if offer["code"] in approved and offer["risk_assessment_confirmed_at"] and offer["kind"] == "catalogue":
            supply.update(offer["capacity"])
    preferences = sum(len(p["preferences"]) for p in pupils)
    lines = [
        f"{len(region['schools'])} schools, {len(pupils)} pupils, {len(region['employers'])} employers, "
        f"{len(offers)} offers, {preferences} preferences, "
        f"{sum(1 for p in pupils if p['self_arranged'])} self-arranged, "
        f"{sum(1 for p in pupils if not p['preferences'] and not p['self_arranged'])} without choices",
    ]
    lines.extend(
        f"  {period['code']}: {demand[period['code']]} pupils, {supply[period['code']]} visible places"
        for period in region["periods"]
    )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default data/demo)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    region = generate_region(args.seed)
    content = render(region)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / FILENAME
    target.write_bytes(content)
    print(f"Wrote {target} ({len(content) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    for line in _summary(region):
        print(line)


if __name__ == "__main__":
    main()
