"""channels_redis's channel layer, its connections to Redis bounded and waited for.

channels_redis gives each event loop a redis-py pool that opens a new connection whenever all of its
connections are busy: when a few hundred sockets of a process join their groups at once, it opened a
few hundred connections (each a TCP connect and a HELLO), about a tenth of the server's CPU over the
Direct Line benchmark (docs/performance.md). Here the pool holds at most `max_connections` and a
command waits for a free one (up to `timeout` seconds): a command takes well under a millisecond,
and a process's receive holds only one connection for its blocking pop.
"""

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer
from redis.asyncio import BlockingConnectionPool


class RedisChannelLayer(ChannelsRedisLayer):
    def create_pool(self, index):
        host = dict(self.hosts[index])
        address = host.pop("address", None)
        if address is None:  # a Sentinel or keyword-argument host: channels_redis's own pool
            return super().create_pool(index)
        return BlockingConnectionPool.from_url(address, **host)
