mkdir pkg && printf 'def f():\n    return 42\n' > pkg/mod.py && touch pkg/__init__.py
python3 -m compileall -q pkg && ls pkg/__pycache__ | sed 's/cpython-[0-9]*/cpython-X/'
python3 -c 'import pkg.mod; print(pkg.mod.f())'
