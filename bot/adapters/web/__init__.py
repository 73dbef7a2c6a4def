"""The reviewer web page: knowledge gaps for kvalitetsutvecklare, served by `rutinbot serve`."""
