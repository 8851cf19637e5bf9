cat > test_m.py <<'P'
import unittest
class T(unittest.TestCase):
    def test_add(self): self.assertEqual(1 + 1, 2)
    def test_raises(self):
        with self.assertRaises(ZeroDivisionError): 1 / 0
    @unittest.skip("demo") 
    def test_skip(self): pass
    def test_fail(self): self.assertEqual("a", "b")
P
python3 -m unittest test_m 2>&1 | grep -E '^(Ran|FAILED|OK)' | sed 's/ in [0-9.]*s$//'; echo "rc=${PIPESTATUS[0]}"
