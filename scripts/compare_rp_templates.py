"""Compare the engine's built-in response-processing templates with the published XML.

    .venv/bin/python scripts/compare_rp_templates.py DIR

DIR holds 1EdTech's published templates as ``v2p1/<name>.xml`` and ``v3p0/<name>.xml``
(they are not part of this repository). Each file found is parsed with the engine's own
rule parser and compared with the built-in template of the same name: nothing is
paraphrased. Prints one line per template and exits 1 on any difference, 2 when DIR holds
none of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

from waa_ads.content.item.processing import TEMPLATES, parse_response_processing

FILES = {
    "v2p1/match_correct.xml": "match_correct",
    "v2p1/map_response.xml": "map_response",
    "v2p1/map_response_point.xml": "map_response_point",
    "v3p0/match_correct.xml": "match_correct",
    "v3p0/map_response.xml": "map_response",
    "v3p0/map_response_point.xml": "map_response_point",
    "v3p0/CC2_match.xml": "CC2_match",
    "v3p0/CC2_match_basic.xml": "CC2_match_basic",
    "v3p0/CC2_map_response.xml": "CC2_map_response",
}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    compared = differing = 0
    for path, name in FILES.items():
        file = root / path
        if not file.is_file():
            print(f"missing  {path}")
            continue
        published = parse_response_processing(etree.parse(str(file)).getroot())
        same = published.rules == TEMPLATES[name]
        compared += 1
        differing += not same
        print(f"{'same' if same else 'DIFFERS':8} {path} = built-in {name}")
    if compared == 0:
        print(f"no published templates under {root}", file=sys.stderr)
        return 2
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
