from trading.exchange.ratelimit import RateLimiter, Scope, TokenBucket, weight_of


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_weights_follow_the_fact_sheet():
    assert weight_of("GET", "/api/v3/exchangeInfo") == 10
    assert weight_of("GET", "/api/v3/ticker/24hr", has_symbol=False) == 40
    assert weight_of("GET", "/api/v3/ticker/24hr", has_symbol=True) == 1
    assert weight_of("GET", "/api/v3/myTrades") == 10
    assert weight_of("GET", "/api/v3/order") == 2


def test_bucket_refills_at_its_rate():
    bucket = TokenBucket(capacity=500, refill_per_s=50)
    bucket.refill(0.0)
    bucket.tokens = 0
    assert bucket.deficit(100) == 2.0
    bucket.refill(1.0)
    assert bucket.tokens == 50


def test_limiter_makes_a_heavy_burst_wait_for_the_window():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(12):
        assert limiter._take(Scope.IP, "/api/v3/ticker/24hr", 40) == 0
    assert limiter._take(Scope.IP, "/api/v3/ticker/24hr", 40) == 0.4  # 20 weight short at 50/s
    assert limiter._take(Scope.IP, "/api/v3/depth", 1) == 0  # endpoints have separate budgets


def test_limiter_caps_requests_per_second_per_endpoint():
    limiter = RateLimiter(clock=FakeClock())
    for _ in range(20):
        assert limiter._take(Scope.UID, "/api/v3/order", 1) == 0
    assert limiter._take(Scope.UID, "/api/v3/order", 1) > 0


def test_a_pause_blocks_the_scope_but_not_the_other_scope():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter._take(Scope.IP, "/api/v3/depth", 1) == 0
    limiter.pause(Scope.IP, 3.0)
    assert limiter._take(Scope.IP, "/api/v3/depth", 1) == 3.0
    assert limiter._take(Scope.UID, "/api/v3/order", 1) == 0
    clock.now += 3.0
    assert limiter._take(Scope.IP, "/api/v3/depth", 1) > 0  # drained: no burst right after a 429
    clock.now += 0.05
    assert limiter._take(Scope.IP, "/api/v3/depth", 1) == 0
