python3 -c '
import datetime, decimal, fractions, math, statistics
print(datetime.date(2024, 2, 29) + datetime.timedelta(days=366))
print(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
decimal.getcontext().prec = 30; print(decimal.Decimal(1) / decimal.Decimal(7))
print(fractions.Fraction(3, 9) + fractions.Fraction(1, 6), math.factorial(25), statistics.median([3, 1, 4, 1, 5]))'
