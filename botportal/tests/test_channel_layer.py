"""botportal's Redis channel layer: a burst of commands shares a few connections, none refused."""

import asyncio
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from redis.asyncio import Connection

from botportal.channel_layer import RedisChannelLayer

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")


class CountedConnection(Connection):
    opened = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        CountedConnection.opened += 1


def test_a_burst_of_group_joins_waits_for_the_few_connections_it_may_open():
    host = {"address": os.environ.get("REDIS_URL", ""), "max_connections": 3, "timeout": 10}
    layer = RedisChannelLayer(hosts=[{**host, "connection_class": CountedConnection}])
    CountedConnection.opened = 0
    group = f"g{uuid.uuid4().hex}"

    async def run():
        channels = [await layer.new_channel() for _ in range(200)]
        await asyncio.gather(*(layer.group_add(group, channel) for channel in channels))
        opened = CountedConnection.opened
        await layer.group_send(group, {"type": "hello"})
        received = [await layer.receive(channels[0]), await layer.receive(channels[-1])]
        await layer.flush()
        await layer.close_pools()
        return opened, received

    opened, received = async_to_sync(run)()
    assert 1 <= opened <= 3
    assert received == [{"type": "hello"}, {"type": "hello"}]


def test_channels_redis_own_pool_would_refuse_that_burst():
    """Why the layer's pool waits: with the same bound, channels_redis's own pool raises instead."""
    from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer
    from redis.exceptions import ConnectionError as RedisConnectionError

    layer = ChannelsRedisLayer(hosts=[{"address": os.environ.get("REDIS_URL", ""), "max_connections": 3}])
    group = f"g{uuid.uuid4().hex}"

    async def run():
        channels = [await layer.new_channel() for _ in range(200)]
        try:
            await asyncio.gather(*(layer.group_add(group, channel) for channel in channels))
        finally:
            await layer.flush()
            await layer.close_pools()

    with pytest.raises(RedisConnectionError, match="Too many connections"):
        async_to_sync(run)()
