// Recommender data (engine/recommender/recommender.cpp): a ratings CSV (user,item,rating[,timestamp]) and
// an items CSV (id,title[,genres]) read into it. Read or refused with a message; what is read is consistent.
#include "engine/recommender/recommender.h"
#include "tests/fuzz/harness.h"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::guarded([&] {
        const auto [ratings, items] = fuzz::splitTwo(data, size);
        pellucid::InteractionData d = pellucid::readInteractions(fuzz::writeFile("ratings.csv", ratings));
        for (const pellucid::Interaction &r : d.rows) fuzz::require(std::isfinite(r.rating), "a non-finite rating was accepted");
        pellucid::readItemNames(fuzz::writeFile("items.csv", items), d);
    });
    return 0;
}
