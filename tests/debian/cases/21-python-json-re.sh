python3 - <<'P'
import json, re
d = {"b": [1, 2, {"c": None}], "a": True, "u": "caf\u00e9"}
s = json.dumps(d, sort_keys=True)
print(s)
print(json.loads(s) == d)
print(re.findall(r"(\w)(\d)", "a1 b2 c3"), re.sub(r"\s+", "-", "a  b   c"))
P
