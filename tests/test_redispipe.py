"""The rate checks' Redis connection: pipelined commands, each reply to its own caller."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.redispipe import Pipe, Script
from tests.private_services import PrivateRedis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
    yield redis
    await redis.aclose()


@pytest.fixture
async def pipe(client: Redis) -> AsyncIterator[Pipe]:
    pipe = Pipe(client)
    yield pipe
    await pipe.close()


async def test_concurrent_commands_share_one_connection_and_get_their_own_replies(
    pipe: Pipe,
) -> None:
    replies = await asyncio.gather(*(pipe.call("ECHO", f"m{i}") for i in range(300)))
    assert replies == [f"m{i}".encode() for i in range(300)]
    ids = await asyncio.gather(*(pipe.call("CLIENT", "ID") for _ in range(20)))
    assert len(set(ids)) == 1


async def test_a_command_is_on_its_way_before_its_reply_is_awaited(
    pipe: Pipe, client: Redis
) -> None:
    key = f"t:{secrets.token_hex(4)}"
    reply = await pipe.send("SET", key, "sent")
    # not awaited yet, and another connection already sees it once Redis had a moment
    for _ in range(100):
        if await client.get(key) == b"sent":
            break
        await asyncio.sleep(0.01)
    assert await client.get(key) == b"sent"
    assert await reply == b"OK"  # replies as Redis sends them: no response callbacks


async def test_an_error_reply_fails_its_command_alone(pipe: Pipe, client: Redis) -> None:
    key = f"t:{secrets.token_hex(4)}"
    await client.set(key, "a string")
    first = await pipe.send("ECHO", "before")
    wrong = await pipe.send("ZADD", key, 1, "member")  # WRONGTYPE
    after = await pipe.send("ECHO", "after")
    assert await first == b"before"
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await wrong
    assert await after == b"after"
    assert await pipe.call("ECHO", "still fine") == b"still fine"


async def test_a_caller_that_gives_up_leaves_the_replies_in_step(pipe: Pipe) -> None:
    empty = f"t:{secrets.token_hex(4)}"
    # BLPOP on an empty list holds the connection's later commands for 0.3 s, so the
    # middle caller is gone before its reply exists
    blocked = await pipe.send("BLPOP", empty, "0.3")
    middle = asyncio.ensure_future(await pipe.send("ECHO", "middle"))
    last = await pipe.send("ECHO", "last")
    await asyncio.sleep(0.05)
    middle.cancel()
    assert await blocked is None
    assert await last == b"last"
    assert await pipe.call("ECHO", "next") == b"next"


async def test_a_silent_redis_fails_the_waiting_commands_and_a_new_connection_follows(
    client: Redis,
) -> None:
    pipe = Pipe(client, timeout_s=0.2)
    try:
        before = await pipe.call("CLIENT", "ID")
        stuck = await pipe.send("BLPOP", f"t:{secrets.token_hex(4)}", "2")
        behind = await pipe.send("ECHO", "behind")
        with pytest.raises(RedisTimeoutError):
            await stuck
        with pytest.raises(RedisError):
            await behind
        assert await pipe.call("ECHO", "again") == b"again"
        assert await pipe.call("CLIENT", "ID") != before
    finally:
        await pipe.close()


async def test_a_script_redis_forgot_is_loaded_again(pipe: Pipe, client: Redis) -> None:
    script = Script(pipe, "return tonumber(ARGV[1]) * 2 -- " + secrets.token_hex(4))
    assert await script([], [21]) == 42
    await client.script_flush()
    assert not (await client.script_exists(script.sha))[0]
    assert await script([], [5]) == 10
    assert (await client.script_exists(script.sha))[0]


async def test_redis_restarting_fails_commands_until_it_is_back() -> None:
    with PrivateRedis() as server:
        client = Redis.from_url(server.url, socket_connect_timeout=0.5, socket_timeout=1.0)
        pipe = Pipe(client)
        try:
            assert await pipe.call("PING") == b"PONG"
            server.stop()
            with pytest.raises((RedisConnectionError, OSError)):
                await pipe.call("PING")
            server.start()
            assert await pipe.call("PING") == b"PONG"
        finally:
            await pipe.close()
            await client.aclose()


async def test_a_redis_that_hangs_fails_commands_in_time_reconnecting_too() -> None:
    """A Redis that keeps accepting connections but answers nothing (paused: SIGSTOP, a VM
    frozen, a proxy without its backend). Once the first silent reply fails the connection,
    the next command reconnects, and redis-py's handshake (CLIENT SETINFO, SELECT) waited for
    its reply without any bound: every rate check, so every generation, hung until Redis came
    back."""
    with PrivateRedis() as server:
        client = Redis.from_url(server.url, socket_connect_timeout=0.5, socket_timeout=1.0)
        pipe = Pipe(client, timeout_s=0.3)
        assert server.proc is not None
        try:
            assert await pipe.call("PING") == b"PONG"
            server.proc.send_signal(signal.SIGSTOP)
            try:
                for _ in range(3):  # the silent reply, then reconnections
                    started = asyncio.get_running_loop().time()
                    with pytest.raises((RedisTimeoutError, RedisConnectionError)):
                        await asyncio.wait_for(pipe.call("PING"), 5)
                    assert asyncio.get_running_loop().time() - started < 2.5
            finally:
                server.proc.send_signal(signal.SIGCONT)
            assert await pipe.call("PING") == b"PONG"
        finally:
            await pipe.close()
            await client.aclose()
